"""Builds the live providers from the settings: one aiohttp session per configured upstream.

An upstream is live when its key is set; the others stay absent, and the router answers 503
naming the variable. Sessions are bound to the event loop, so build them inside it
(`await start_live_providers(...)`) and `await live.close()` at shutdown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from server.providers.base import Provider
from server.providers.bfl import BFLProvider
from server.providers.fetch import Fetcher, GuardedResolver
from server.providers.google import (
    GeminiSurface,
    GoogleProvider,
    Surface,
    VertexSurface,
)
from server.providers.ideogram import IdeogramProvider
from server.providers.openai import OpenAIProvider
from server.providers.settings import ProviderSettings
from server.providers.stability import StabilityProvider
from server.providers.upstream import Upstream


@dataclass
class LiveProviders:
    providers: dict[str, Provider] = field(default_factory=dict)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
        self.sessions.clear()


class _Builder:
    def __init__(self, settings: ProviderSettings, live: LiveProviders) -> None:
        self.s = settings
        self.live = live

    def upstream(self, provider: str, display: str, base_url: str) -> tuple[Upstream, Fetcher]:
        s = self.s
        origin = URL(base_url)
        # The operator chose the base URL (possibly an in-cluster proxy): its DNS answers are trusted.
        trusted = s.insecure_http_hosts | {f"{(origin.raw_host or '').lower()}:{origin.port}"}
        cap = max(1, s.concurrency.get(provider, 16))
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(trusted), limit=2 * cap + 8, ttl_dns_cache=60)
        # No total timeout: a generation may take a minute; each call is bounded by the request's deadline.
        session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout_s))
        self.live.sessions.append(session)
        fetcher = Fetcher(display, session, insecure_hosts=s.insecure_http_hosts, max_bytes=s.download_max_bytes,
                          max_pixels=s.max_image_pixels, connect_s=s.connect_timeout_s,
                          read_s=s.download_read_timeout_s)
        return Upstream(display, session, cap, s.download_read_timeout_s), fetcher

    def common(self) -> dict[str, Any]:
        return {"default_deadline_s": self.s.default_deadline_s}


async def start_live_providers(settings: ProviderSettings) -> LiveProviders:
    """The configured upstreams, keyed by the catalog's provider ids."""
    s, live = settings, LiveProviders()
    b = _Builder(settings, live)
    if s.openai_api_key:
        up, fetcher = b.upstream("openai", "OpenAI", s.openai_base_url)
        live.providers["openai"] = OpenAIProvider(up, fetcher, api_key=s.openai_api_key, base_url=s.openai_base_url,
                                                  max_pixels=s.max_image_pixels, **b.common())
    if s.stability_api_key:
        up, _ = b.upstream("stability", "Stability AI", s.stability_base_url)
        live.providers["stability"] = StabilityProvider(up, api_key=s.stability_api_key,
                                                        base_url=s.stability_base_url,
                                                        max_pixels=s.max_image_pixels, **b.common())
    if s.bfl_api_key:
        up, fetcher = b.upstream("bfl", "Black Forest Labs", s.bfl_base_url)
        live.providers["bfl"] = BFLProvider(up, fetcher, api_key=s.bfl_api_key, base_url=s.bfl_base_url,
                                            poll_interval_s=s.bfl_poll_interval_s, **b.common())
    if s.ideogram_api_key:
        up, fetcher = b.upstream("ideogram", "Ideogram", s.ideogram_base_url)
        live.providers["ideogram"] = IdeogramProvider(up, fetcher, api_key=s.ideogram_api_key,
                                                      base_url=s.ideogram_base_url, **b.common())
    surface: Surface | None = None
    if s.vertex_configured and s.vertex_project:
        surface = VertexSurface(s.vertex_project, s.vertex_location, s.vertex_base_url, s.vertex_access_token,
                                s.vertex_access_token_file)
        base = s.vertex_base_url or f"https://{s.vertex_location}-aiplatform.googleapis.com"
    elif s.gemini_api_key:
        surface, base = GeminiSurface(s.gemini_api_key, s.gemini_base_url), s.gemini_base_url
    if surface is not None:
        up, _ = b.upstream("google", "Google", base)
        live.providers["google"] = GoogleProvider(up, surface, max_pixels=s.max_image_pixels, **b.common())
    return live
