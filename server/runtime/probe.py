"""Container health probe: `python -m server.runtime.probe [server|gateway]` exits 0 only when ready.

One image runs either process, so the probe checks whichever one the container runs: the argument
if given, else the container's main process (PID 1's command line: `python -m gateway` → gateway).

- server: grpc.health.v1 Check over the synchronous gRPC API (no event loop, no grpc_health_probe
  binary to download). PROBE_SERVICE="" checks liveness; the default checks the ImageService
  (readiness). With TLS on (PERF_GRPC_TLS_CERT_FILE) it speaks TLS too: it trusts
  PERF_GRPC_TLS_CA_FILE, else the server's own certificate (enough when self-signed); it presents
  PERF_GRPC_TLS_CLIENT_CERT_FILE/_KEY_FILE, else, when client certificates are required, the
  server's own pair; it checks the name PERF_GRPC_TLS_SERVER_NAME, else `localhost`.
- gateway: GET http://127.0.0.1:$PERF_HTTP_PORT/readyz with the standard library only.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contract.grpc_tls import ClientTls, ServerTls


def container_process(cmdline: Path = Path("/proc/1/cmdline")) -> str:
    """'gateway' when the main process is `python -m gateway`, else 'server'."""
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return "server"
    return "gateway" if any(a == b"-m" and b == b"gateway" for a, b in zip(args, args[1:])) else "server"


def _channel(target: str, env: Mapping[str, str]) -> grpc.Channel:
    server = ServerTls.from_env(env)
    if not server.enabled:
        return grpc.insecure_channel(target)
    client = ClientTls.from_env(env)
    ca = client.ca_file or server.cert_file
    cert, key = client.client_cert_file, client.client_key_file
    if cert is None and server.requires_client_cert:
        cert, key = server.cert_file, server.key_file
    assert ca is not None
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes(),
                                               private_key=key.read_bytes() if key else None,
                                               certificate_chain=cert.read_bytes() if cert else None)
    name = client.server_name or "localhost"
    return grpc.secure_channel(target, credentials, options=[("grpc.ssl_target_name_override", name)])


def check_server(env: Mapping[str, str]) -> int:
    target = env.get("PROBE_TARGET", f"127.0.0.1:{env.get('PERF_GRPC_PORT', '50051')}")
    service = env.get("PROBE_SERVICE", "perf.images.v1.ImageService")
    try:
        with _channel(target, env) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                               timeout=2.0)
    except grpc.RpcError as error:
        print(f"unhealthy: {error.code().name}", file=sys.stderr)
        return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def check_gateway(env: Mapping[str, str]) -> int:
    url = f"http://127.0.0.1:{env.get('PERF_HTTP_PORT', '8080')}/readyz"
    # No proxy, whatever HTTP_PROXY says: the gateway is on this container's loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2.0) as response:
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError) as error:  # HTTPError (503 while not ready) is a URLError
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    process = argv[0] if argv else container_process()
    if process not in ("server", "gateway"):
        print("usage: python -m server.runtime.probe [server|gateway]", file=sys.stderr)
        return 2
    return check_gateway(os.environ) if process == "gateway" else check_server(os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
