"""Finds the provider plugins and builds the configured ones: one aiohttp session per upstream.

Built-ins are the modules of server/providers/adapters/ that define ``PROVIDER``; operators may
add their own with PERF_PROVIDER_MODULES (comma-separated importable module names), through the
same seam. A provider is live when its plugin says it is configured (normally: its key is set);
the others stay absent, and the router answers 503 naming what to set. Sessions are bound to the
event loop, so build inside it (``await start_live_providers(...)``) and ``await live.close()``
at shutdown.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from server.providers import adapters
from server.providers.base import Provider
from server.providers.fetch import Fetcher, GuardedResolver
from server.providers.images import ImageLimits
from server.providers.plugin import ProviderPlugin
from server.providers.settings import ProviderSettings
from server.providers.upstream import Upstream


def declared(extra_modules: Iterable[str] = ()) -> dict[str, ProviderPlugin]:
    """Every provider plugin by id: the built-in adapters, then `extra_modules` (which may override)."""
    names = [f"{adapters.__name__}.{info.name}" for info in pkgutil.iter_modules(adapters.__path__)]
    plugins: dict[str, ProviderPlugin] = {}
    for name in [*sorted(names), *extra_modules]:
        plugin = getattr(importlib.import_module(name), "PROVIDER", None)
        if isinstance(plugin, ProviderPlugin):
            plugins[plugin.id] = plugin
    return plugins


def plugins_from_env(env: Mapping[str, str]) -> dict[str, ProviderPlugin]:
    extra = [m.strip() for m in env.get("PERF_PROVIDER_MODULES", "").split(",") if m.strip()]
    return declared(extra)


@dataclass
class LiveProviders:
    providers: dict[str, Provider] = field(default_factory=dict)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
        self.sessions.clear()


@dataclass
class _Kit:
    """The BuildKit one plugin's builder gets."""

    plugin: ProviderPlugin
    settings: ProviderSettings
    live: LiveProviders
    values: Mapping[str, str]
    # aiohttp request tracing for every upstream session (spans, when tracing is on).
    trace_configs: tuple[aiohttp.TraceConfig, ...] = ()

    @property
    def limits(self) -> ImageLimits:
        return ImageLimits(self.settings.download_max_bytes, self.settings.max_image_pixels)

    @property
    def default_deadline_s(self) -> float:
        return self.settings.default_deadline_s

    def connect(self, base_url: str) -> tuple[Upstream, Fetcher]:
        s, origin = self.settings, URL(base_url)
        # The operator chose the base URL (possibly an in-cluster proxy): its DNS answers are trusted.
        trusted = s.insecure_http_hosts | {f"{(origin.raw_host or '').lower()}:{origin.port}"}
        cap = s.concurrency_for(self.plugin)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(trusted), limit=2 * cap + 8, ttl_dns_cache=60)
        # No total timeout: a generation may take a minute; each call is bounded by the request's deadline.
        session = aiohttp.ClientSession(connector=connector, trust_env=False, trace_configs=list(self.trace_configs),
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout_s))
        self.live.sessions.append(session)
        name = self.plugin.name
        fetcher = Fetcher(name, session, insecure_hosts=s.insecure_http_hosts, limits=self.limits,
                          connect_s=s.connect_timeout_s, read_s=s.download_read_timeout_s)
        return Upstream(name, session, cap, s.download_read_timeout_s, image_bytes=s.download_max_bytes), fetcher


async def start_live_providers(settings: ProviderSettings, plugins: Mapping[str, ProviderPlugin] | None = None,
                               trace_configs: tuple[aiohttp.TraceConfig, ...] = ()) -> LiveProviders:
    """The configured upstreams, keyed by the catalog's provider ids."""
    live = LiveProviders()
    for plugin in (plugins if plugins is not None else plugins_from_env(settings.env)).values():
        values = settings.values_for(plugin)
        if plugin.is_configured(values):
            live.providers[plugin.id] = plugin.build(_Kit(plugin, settings, live, values, trace_configs))
    return live
