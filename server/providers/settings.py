"""Upstream settings, read once from the environment: keys, base URLs, timeouts, caps.

An upstream is configured when its key is set (Google: GEMINI_API_KEY, or VERTEX_PROJECT with a
token). Base URLs are spelled as each vendor's SDK spells them (OPENAI_BASE_URL includes /v1).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

MIB = 1024 * 1024
PROVIDERS = ("openai", "stability", "bfl", "ideogram", "google")
# Per-process caps on in-flight upstream generations. BFL allows 24 active tasks per key and
# Ideogram 10 in-flight requests (providers.md 3.1, 4.1); OpenAI and Google limit rate, not concurrency.
DEFAULT_CONCURRENCY = {"openai": 1024, "stability": 16, "bfl": 24, "ideogram": 10, "google": 64}


def _host_ports(raw: str) -> frozenset[str]:
    return frozenset(item.strip().lower() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class ProviderSettings:
    openai_api_key: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    stability_api_key: str | None = None
    stability_base_url: str = "https://api.stability.ai"
    bfl_api_key: str | None = None
    bfl_base_url: str = "https://api.bfl.ai"
    ideogram_api_key: str | None = None
    ideogram_base_url: str = "https://api.ideogram.ai"
    gemini_api_key: str | None = None
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    vertex_project: str | None = None
    vertex_location: str = "us-central1"
    vertex_access_token: str | None = None
    # A file holding a current OAuth access token, re-read when it changes (kept fresh by e.g. a
    # sidecar running `gcloud auth print-access-token`); tokens live one hour.
    vertex_access_token_file: str | None = None
    vertex_base_url: str | None = None  # default: https://{location}-aiplatform.googleapis.com
    # "host:port" pairs that may be fetched over plain http and at non-public addresses. For tests
    # against local fakes; everything else must be https to a public address.
    insecure_http_hosts: frozenset[str] = frozenset()
    connect_timeout_s: float = 5.0
    download_read_timeout_s: float = 10.0
    download_max_bytes: int = 32 * MIB
    max_image_pixels: int = 40_000_000
    bfl_poll_interval_s: float = 0.5
    # Used when the caller sent no deadline (gRPC clients without a timeout).
    default_deadline_s: float = 300.0
    concurrency: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CONCURRENCY), hash=False)

    @property
    def vertex_configured(self) -> bool:
        return bool(self.vertex_project and (self.vertex_access_token or self.vertex_access_token_file))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProviderSettings:
        env = os.environ if env is None else env
        d = cls()

        def opt(name: str) -> str | None:
            return env.get(name) or None

        concurrency = {p: int(env.get(f"PERF_{p.upper()}_MAX_CONCURRENCY", str(n)))
                       for p, n in DEFAULT_CONCURRENCY.items()}
        return cls(
            openai_api_key=opt("OPENAI_API_KEY"),
            openai_base_url=env.get("OPENAI_BASE_URL") or d.openai_base_url,
            stability_api_key=opt("STABILITY_API_KEY"),
            stability_base_url=env.get("STABILITY_BASE_URL") or d.stability_base_url,
            bfl_api_key=opt("BFL_API_KEY"),
            bfl_base_url=env.get("BFL_BASE_URL") or d.bfl_base_url,
            ideogram_api_key=opt("IDEOGRAM_API_KEY"),
            ideogram_base_url=env.get("IDEOGRAM_BASE_URL") or d.ideogram_base_url,
            gemini_api_key=opt("GEMINI_API_KEY"),
            gemini_base_url=env.get("GEMINI_BASE_URL") or d.gemini_base_url,
            vertex_project=opt("VERTEX_PROJECT"),
            vertex_location=env.get("VERTEX_LOCATION") or d.vertex_location,
            vertex_access_token=opt("VERTEX_ACCESS_TOKEN"),
            vertex_access_token_file=opt("VERTEX_ACCESS_TOKEN_FILE"),
            vertex_base_url=opt("VERTEX_BASE_URL"),
            insecure_http_hosts=_host_ports(env.get("PERF_INSECURE_HTTP_HOSTS", "")),
            connect_timeout_s=float(env.get("PERF_UPSTREAM_CONNECT_TIMEOUT_SECONDS", str(d.connect_timeout_s))),
            download_read_timeout_s=float(env.get("PERF_DOWNLOAD_READ_TIMEOUT_SECONDS",
                                                  str(d.download_read_timeout_s))),
            download_max_bytes=int(env.get("PERF_DOWNLOAD_MAX_BYTES", str(d.download_max_bytes))),
            max_image_pixels=int(env.get("PERF_MAX_IMAGE_PIXELS", str(d.max_image_pixels))),
            bfl_poll_interval_s=float(env.get("PERF_BFL_POLL_INTERVAL_SECONDS", str(d.bfl_poll_interval_s))),
            default_deadline_s=float(env.get("PERF_UPSTREAM_DEADLINE_SECONDS", str(d.default_deadline_s))),
            concurrency=concurrency,
        )
