"""Optional TLS on the gRPC hop: what the server presents, and what its clients (gateway, probe) check.

Both halves are off unless configured, so one machine and tests keep plain loopback gRPC::

    server  PERF_GRPC_TLS_CERT_FILE + PERF_GRPC_TLS_KEY_FILE   serve TLS with this certificate chain
            PERF_GRPC_TLS_CLIENT_CA_FILE                       also require client certificates this CA
                                                               issued (mTLS); a client without one is refused
    client  PERF_GRPC_TLS_CA_FILE                              speak TLS, trusting only this CA
            PERF_GRPC_TLS_CLIENT_CERT_FILE + _CLIENT_KEY_FILE  present this certificate (for mTLS)
            PERF_GRPC_TLS_SERVER_NAME                          check this name instead of the target's host

Files are read when credentials are built (at start): rotating a certificate takes a restart, which
a rolling restart of the Deployment does without downtime.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def _both_or_neither(first: tuple[str, Path | None], second: tuple[str, Path | None]) -> None:
    if (first[1] is None) != (second[1] is None):
        raise ValueError(f"{first[0]} and {second[0]} must be set together")


@dataclass(frozen=True)
class ServerTls:
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def requires_client_cert(self) -> bool:
        return self.client_ca_file is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerTls:
        tls = cls(cert_file=_path(env, "PERF_GRPC_TLS_CERT_FILE"), key_file=_path(env, "PERF_GRPC_TLS_KEY_FILE"),
                  client_ca_file=_path(env, "PERF_GRPC_TLS_CLIENT_CA_FILE"))
        _both_or_neither(("PERF_GRPC_TLS_CERT_FILE", tls.cert_file), ("PERF_GRPC_TLS_KEY_FILE", tls.key_file))
        if tls.client_ca_file is not None and not tls.enabled:
            # Client certificates are checked in the TLS handshake; without TLS they would be ignored.
            raise ValueError("PERF_GRPC_TLS_CLIENT_CA_FILE needs PERF_GRPC_TLS_CERT_FILE and PERF_GRPC_TLS_KEY_FILE")
        return tls

    def credentials(self) -> grpc.ServerCredentials:
        assert self.cert_file is not None and self.key_file is not None
        client_ca = self.client_ca_file.read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials([(self.key_file.read_bytes(), self.cert_file.read_bytes())],
                                           root_certificates=client_ca, require_client_auth=client_ca is not None)


@dataclass(frozen=True)
class ClientTls:
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    server_name: str | None = None

    @property
    def enabled(self) -> bool:
        return self.ca_file is not None or self.client_cert_file is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClientTls:
        tls = cls(ca_file=_path(env, "PERF_GRPC_TLS_CA_FILE"),
                  client_cert_file=_path(env, "PERF_GRPC_TLS_CLIENT_CERT_FILE"),
                  client_key_file=_path(env, "PERF_GRPC_TLS_CLIENT_KEY_FILE"),
                  server_name=env.get("PERF_GRPC_TLS_SERVER_NAME", "").strip() or None)
        _both_or_neither(("PERF_GRPC_TLS_CLIENT_CERT_FILE", tls.client_cert_file),
                         ("PERF_GRPC_TLS_CLIENT_KEY_FILE", tls.client_key_file))
        return tls

    def credentials(self) -> grpc.ChannelCredentials:
        # No CA file (only a client certificate): the system's roots verify the server.
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes() if self.ca_file else None,
            private_key=self.client_key_file.read_bytes() if self.client_key_file else None,
            certificate_chain=self.client_cert_file.read_bytes() if self.client_cert_file else None)

    def options(self) -> list[tuple[str, str]]:
        """Channel options: the name to verify, when the target's host is not on the certificate."""
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
