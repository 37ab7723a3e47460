"""Upstream settings, read once from the environment: what every provider shares (timeouts, caps,
trusted test hosts), plus each provider's own variables as its plugin declares them.

A secret setting may be given as ``<NAME>_FILE`` (a path whose contents are the value), the form
container secrets and Kubernetes Secret volumes use; the variable itself wins when both are set.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.providers.plugin import ProviderPlugin

MIB = 1024 * 1024


def _host_ports(raw: str) -> frozenset[str]:
    return frozenset(item.strip().lower() for item in raw.split(",") if item.strip())


def read_setting(env: Mapping[str, str], name: str, secret: bool = False) -> str | None:
    """The value of `name`, or for secrets the stripped contents of the file `name`_FILE names."""
    value = env.get(name)
    if value:
        return value
    if secret and env.get(f"{name}_FILE"):
        return Path(env[f"{name}_FILE"]).read_text(encoding="utf-8").strip() or None
    return None


@dataclass(frozen=True)
class ProviderSettings:
    # The environment the providers' own settings are read from (see values_for).
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    # "host:port" pairs that may be fetched over plain http and at non-public addresses. For tests
    # against local fakes; everything else must be https to a public address.
    insecure_http_hosts: frozenset[str] = frozenset()
    connect_timeout_s: float = 5.0
    download_read_timeout_s: float = 10.0
    download_max_bytes: int = 32 * MIB
    # Above the largest image any current model makes (Gemini 4K at 21:9: 6336x2688, 17 MP), well below
    # what would let one hostile header make us decode hundreds of megabytes.
    max_image_pixels: int = 25_000_000
    # Used when the caller sent no deadline (gRPC clients without a timeout).
    default_deadline_s: float = 300.0

    def values_for(self, plugin: ProviderPlugin) -> dict[str, str]:
        """The plugin's settings with defaults applied; unset ones are absent."""
        values: dict[str, str] = {}
        for setting in plugin.settings:
            value = read_setting(self.env, setting.env, setting.secret) or setting.default
            if value is not None:
                values[setting.env] = value
        return values

    def concurrency_for(self, plugin: ProviderPlugin) -> int:
        return max(1, int(self.env.get(plugin.concurrency_env, str(plugin.default_concurrency))))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProviderSettings:
        env = dict(os.environ if env is None else env)
        d = cls()
        return cls(
            env=env,
            insecure_http_hosts=_host_ports(env.get("PERF_INSECURE_HTTP_HOSTS", "")),
            connect_timeout_s=float(env.get("PERF_UPSTREAM_CONNECT_TIMEOUT_SECONDS", str(d.connect_timeout_s))),
            download_read_timeout_s=float(env.get("PERF_DOWNLOAD_READ_TIMEOUT_SECONDS",
                                                  str(d.download_read_timeout_s))),
            download_max_bytes=int(env.get("PERF_DOWNLOAD_MAX_BYTES", str(d.download_max_bytes))),
            max_image_pixels=int(env.get("PERF_MAX_IMAGE_PIXELS", str(d.max_image_pixels))),
            default_deadline_s=float(env.get("PERF_UPSTREAM_DEADLINE_SECONDS", str(d.default_deadline_s))),
        )
