"""Gateway settings, read once from the environment (see the configuration table in README.md)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.grpc_tls import ClientTls
from contract.logs import log_format
from contract.tracing import TracingSettings

MIB = 1024 * 1024


@dataclass(frozen=True)
class GatewaySettings:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_target: str = "127.0.0.1:50051"
    request_timeout_s: float = 120.0
    # Generation requests are small JSON; anything bigger is a mistake or an attack.
    max_body_bytes: int = 64 * 1024
    max_message_bytes: int = 128 * MIB
    # Edit and variation uploads (multipart): per file and for all files of one request. Counted while
    # they arrive, so the first byte over is a 413; the server applies the same two caps (same names).
    max_upload_file_bytes: int = 25 * MIB
    max_upload_bytes: int = 64 * MIB
    shutdown_timeout_s: float = 30.0
    # A request body must have arrived this long after its headers, or the answer is 408 (a client
    # sending Content-Length: 1000 and 10 bytes would otherwise hold its connection for good).
    body_read_timeout_s: float = 30.0
    # Idle keep-alive connections (and requests whose headers never complete) are closed after this.
    # Above the usual load balancer idle timeouts (60 s), so the balancer, not us, closes first.
    keepalive_timeout_s: float = 75.0
    access_log: bool = False
    # Several gateways on one port (scripts/run_local.py --gateways M): SO_REUSEPORT, the kernel
    # spreading connections. Off by default, so a second gateway started by mistake fails to bind.
    reuse_port: bool = False
    # Connections the kernel queues before accept (capped by net.core.somaxconn). aiohttp's default of 128
    # is small for a gateway that may see a thousand clients connect at once: past it, a client waits for
    # a SYN retransmit (1 s, then 3 s…). uvicorn uses 2048, nginx 511.
    http_backlog: int = 4096
    # TLS toward the gRPC server (contract/grpc_tls.py); plaintext unless a CA or client cert is set.
    tls: ClientTls = field(default_factory=ClientTls)
    # Where our image URLs point (as the server's PERF_PUBLIC_URL): the console's CSP admits images from it.
    public_url: str = "http://127.0.0.1:8080"
    # "text" or "json" (contract/logs.py).
    log_format: str = "text"
    # This process's own GET /metrics on a port of its own (for gateways sharing a port); None: only
    # GET /metrics on the HTTP port.
    metrics_port: int | None = None
    # OpenTelemetry spans over OTLP/HTTP (contract/tracing.py); off without an endpoint.
    tracing: TracingSettings = field(default_factory=TracingSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        http_port = int(env.get("PERF_HTTP_PORT", str(cls.http_port)))
        return cls(
            http_host=env.get("PERF_HTTP_HOST", cls.http_host),
            http_port=http_port,
            grpc_target=env.get("PERF_GRPC_TARGET", f"127.0.0.1:{env.get('PERF_GRPC_PORT', '50051')}"),
            request_timeout_s=float(env.get("PERF_REQUEST_TIMEOUT_SECONDS", str(cls.request_timeout_s))),
            max_body_bytes=int(env.get("PERF_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_message_bytes=int(env.get("PERF_MAX_MESSAGE_BYTES", str(cls.max_message_bytes))),
            max_upload_file_bytes=int(env.get("PERF_MAX_UPLOAD_FILE_BYTES", str(cls.max_upload_file_bytes))),
            max_upload_bytes=int(env.get("PERF_MAX_UPLOAD_BYTES", str(cls.max_upload_bytes))),
            shutdown_timeout_s=float(env.get("PERF_SHUTDOWN_GRACE_SECONDS", str(cls.shutdown_timeout_s))),
            body_read_timeout_s=float(env.get("PERF_BODY_READ_TIMEOUT_SECONDS", str(cls.body_read_timeout_s))),
            keepalive_timeout_s=float(env.get("PERF_KEEPALIVE_TIMEOUT_SECONDS", str(cls.keepalive_timeout_s))),
            access_log=env.get("PERF_ACCESS_LOG", "0") in ("1", "true", "yes"),
            reuse_port=env.get("PERF_HTTP_REUSE_PORT", "0") in ("1", "true", "yes"),
            http_backlog=int(env.get("PERF_HTTP_BACKLOG", str(cls.http_backlog))),
            tls=ClientTls.from_env(env),
            public_url=env.get("PERF_PUBLIC_URL", f"http://127.0.0.1:{http_port}"),
            log_format=log_format(env.get("PERF_LOG_FORMAT")),
            metrics_port=int(env["PERF_GATEWAY_METRICS_PORT"]) if env.get("PERF_GATEWAY_METRICS_PORT") else None,
            tracing=TracingSettings.from_env(env),
        )
