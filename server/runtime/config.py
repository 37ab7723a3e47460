"""Server settings, read once from the environment (see the configuration table in README.md)."""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from contract.grpc_tls import ServerTls
from contract.logs import log_format
from contract.tracing import TracingSettings
from server.jobs.settings import JobSettings
from server.pipeline.breakers import BreakerSettings
from server.providers.settings import ProviderSettings, read_setting
from server.storage.settings import StorageSettings

MIB = 1024 * 1024
# Settings that may instead be given as <NAME>_FILE (a path whose contents are the value), the form
# compose secrets and Kubernetes Secret volumes take; the variable itself wins when both are set.
SECRET_SETTINGS = ("PERF_SECRET", "PERF_DATABASE_URL", "PERF_DATABASE_PASSWORD", "PERF_REDIS_URL")


def database_url(env: Mapping[str, str]) -> str | None:
    """PERF_DATABASE_URL, with PERF_DATABASE_PASSWORD put into it when the password is kept apart.

    A separate password lets the URL sit in plain configuration while only the password is a secret
    (the postgres image reads the same file through POSTGRES_PASSWORD_FILE).
    """
    url = read_setting(env, "PERF_DATABASE_URL", secret=True)
    password = read_setting(env, "PERF_DATABASE_PASSWORD", secret=True)
    if password is None:
        return url
    if url is None:
        raise ValueError("PERF_DATABASE_PASSWORD is set but PERF_DATABASE_URL is not")
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError("PERF_DATABASE_URL already holds a password; give it in one place only")
    user, _, host = parts.netloc.rpartition("@")
    # Percent-encoded: asyncpg decodes the password, and '@', ':' or '/' in it must not split the URL.
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@dataclass(frozen=True)
class ServerSettings:
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # A Unix-domain socket the server also listens on, for a gateway on the same host
    # (PERF_GRPC_TARGET=unix:<path>): the hop skips the TCP stack (bench: about 7 % more small
    # requests per second on 2 cores). Same credentials as the port; None: the port only.
    grpc_unix_socket: str | None = None
    data_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8080"
    image_ttl_s: int = 3600
    # 10 images of up to ~6 MB each as base64, with headroom.
    max_message_bytes: int = 128 * MIB
    drain_s: float = 1.0
    shutdown_grace_s: float = 30.0
    sweep_interval_s: float = 60.0
    # Files outlive their URLs by this much so a download in progress at expiry is not cut short.
    sweep_grace_s: float = 60.0
    sandbox_latency_s: float = 0.0
    reflection: bool = True
    secret: str | None = None
    # PostgreSQL for keys, ledger and spend (replicas); unset: the SQLite file in data_dir.
    database_url: str | None = None
    # Redis for the image limiter (replicas); unset: the in-process limiter (one server process only).
    redis_url: str | None = None
    redis_prefix: str = "perf:rl:"
    # How long an unsettled image or money reservation lives if its replica dies. Must exceed the
    # longest generation (PERF_UPSTREAM_DEADLINE_SECONDS, 300 by default).
    reservation_lease_s: float = 900.0
    health_interval_s: float = 5.0
    log_level: str = "INFO"
    # "text" or "json" (one object per line): contract/logs.py.
    log_format: str = "text"
    # Prometheus exposition on this port (GET /metrics, on grpc_host); None: no exporter.
    metrics_port: int | None = None
    # OpenTelemetry spans over OTLP/HTTP (contract/tracing.py); off without an endpoint.
    tracing: TracingSettings = field(default_factory=TracingSettings)
    # TLS (and mTLS) on the gRPC port (contract/grpc_tls.py); off by default.
    tls: ServerTls = field(default_factory=ServerTls)
    # A second, plaintext port serving only grpc.health.v1, for probes that cannot speak TLS
    # (Kubernetes' native gRPC probes); None: no such port.
    health_port: int | None = None
    # Close client connections after this long (letting their calls finish first), so clients of a
    # headless Service reconnect and re-resolve DNS, and so find replicas added since; None: never.
    max_connection_age_s: float | None = None
    # Keys to ensure exist at every start (server/keys/bootstrap.py); None: none.
    bootstrap_keys_file: Path | None = None
    # Image bytes all generations in flight may hold in memory together (server/pipeline/budget.py),
    # and how long a newcomer waits for room before a 503.
    max_inflight_image_bytes: int = 1024 * MIB
    inflight_wait_s: float = 60.0
    # Images sent to edit or vary: each at most, and all together at most (the gateway enforces the
    # same numbers while it reads the upload; the server checks again for gRPC callers).
    max_upload_file_bytes: int = 25 * MIB
    max_upload_bytes: int = 64 * MIB
    # Tests and drills only: the date lifecycle routing takes as today (PERF_LIFECYCLE_TODAY).
    fixed_today: dt.date | None = None
    # The catalog file (models, prices, deployments); None: the one shipped in server/catalog/.
    catalog_path: Path | None = None
    # Upstream keys, base URLs and download limits (server/providers/settings.py).
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    # Where images live (data_dir/images or an S3 bucket) and which URLs point at them.
    storage: StorageSettings = field(default_factory=StorageSettings)
    # The admin API's token (PERF_ADMIN_TOKEN or PERF_ADMIN_TOKEN_FILE); None: the admin API answers 404.
    # Kept out of repr so the settings can never print it.
    admin_token: str | None = field(default=None, repr=False)
    # Failed admin sign-ins allowed per client address per rolling minute (then 429).
    admin_failures_per_minute: int = 10
    # When a deployment's circuit opens and for how long (server/pipeline/breakers.py).
    breakers: BreakerSettings = field(default_factory=BreakerSettings)
    # Async job workers and webhook retries (server/jobs/settings.py).
    jobs: JobSettings = field(default_factory=JobSettings)

    def today(self) -> dt.date:
        """The date lifecycle routing uses: UTC today, unless a test fixed it."""
        return self.fixed_today or dt.datetime.now(dt.UTC).date()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if env is None else env
        http_port = int(env.get("PERF_HTTP_PORT", "8080"))
        return cls(
            grpc_host=env.get("PERF_GRPC_HOST", cls.grpc_host),
            grpc_port=int(env.get("PERF_GRPC_PORT", str(cls.grpc_port))),
            grpc_unix_socket=env.get("PERF_GRPC_UNIX_SOCKET") or None,
            data_dir=Path(env.get("PERF_DATA_DIR", str(cls.data_dir))),
            public_url=env.get("PERF_PUBLIC_URL", f"http://127.0.0.1:{http_port}"),
            image_ttl_s=int(env.get("PERF_IMAGE_TTL_SECONDS", str(cls.image_ttl_s))),
            max_message_bytes=int(env.get("PERF_MAX_MESSAGE_BYTES", str(cls.max_message_bytes))),
            drain_s=float(env.get("PERF_DRAIN_SECONDS", str(cls.drain_s))),
            shutdown_grace_s=float(env.get("PERF_SHUTDOWN_GRACE_SECONDS", str(cls.shutdown_grace_s))),
            sweep_interval_s=float(env.get("PERF_SWEEP_INTERVAL_SECONDS", str(cls.sweep_interval_s))),
            sweep_grace_s=float(env.get("PERF_SWEEP_GRACE_SECONDS", str(cls.sweep_grace_s))),
            sandbox_latency_s=int(env.get("PERF_SANDBOX_LATENCY_MS", "0")) / 1000,
            reflection=env.get("PERF_GRPC_REFLECTION", "1") not in ("0", "false", "no"),
            secret=read_setting(env, "PERF_SECRET", secret=True),
            database_url=database_url(env),
            redis_url=read_setting(env, "PERF_REDIS_URL", secret=True),
            redis_prefix=env.get("PERF_REDIS_PREFIX", cls.redis_prefix),
            reservation_lease_s=float(env.get("PERF_RESERVATION_LEASE_SECONDS", str(cls.reservation_lease_s))),
            health_interval_s=float(env.get("PERF_HEALTH_INTERVAL_SECONDS", str(cls.health_interval_s))),
            log_level=env.get("PERF_LOG_LEVEL", cls.log_level),
            log_format=log_format(env.get("PERF_LOG_FORMAT")),
            metrics_port=int(env["PERF_METRICS_PORT"]) if env.get("PERF_METRICS_PORT") else None,
            tracing=TracingSettings.from_env(env),
            tls=ServerTls.from_env(env),
            health_port=int(env["PERF_GRPC_HEALTH_PORT"]) if env.get("PERF_GRPC_HEALTH_PORT") else None,
            max_connection_age_s=(float(env["PERF_GRPC_MAX_CONNECTION_AGE_SECONDS"])
                                  if env.get("PERF_GRPC_MAX_CONNECTION_AGE_SECONDS") else None),
            bootstrap_keys_file=Path(env["PERF_BOOTSTRAP_KEYS_FILE"]) if env.get("PERF_BOOTSTRAP_KEYS_FILE") else None,
            max_inflight_image_bytes=int(env.get("PERF_MAX_INFLIGHT_IMAGE_BYTES", str(cls.max_inflight_image_bytes))),
            inflight_wait_s=float(env.get("PERF_INFLIGHT_WAIT_SECONDS", str(cls.inflight_wait_s))),
            max_upload_file_bytes=int(env.get("PERF_MAX_UPLOAD_FILE_BYTES", str(cls.max_upload_file_bytes))),
            max_upload_bytes=int(env.get("PERF_MAX_UPLOAD_BYTES", str(cls.max_upload_bytes))),
            fixed_today=dt.date.fromisoformat(env["PERF_LIFECYCLE_TODAY"]) if env.get("PERF_LIFECYCLE_TODAY") else None,
            catalog_path=Path(env["PERF_CATALOG_PATH"]) if env.get("PERF_CATALOG_PATH") else None,
            providers=ProviderSettings.from_env(env),
            storage=StorageSettings.from_env(env),
            admin_token=read_setting(env, "PERF_ADMIN_TOKEN", secret=True),
            admin_failures_per_minute=int(env.get("PERF_ADMIN_MAX_FAILURES_PER_MINUTE",
                                                  str(cls.admin_failures_per_minute))),
            breakers=BreakerSettings.from_env(env),
            jobs=JobSettings.from_env(env),
        )
