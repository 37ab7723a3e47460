"""Chooses who generates a request and in which words: the sandbox for test keys, the model's
upstream deployment (catalog data) for live keys."""
from __future__ import annotations

import time
from collections.abc import Mapping

from server.catalog import Catalog, Deployment, ModelSpec
from server.catalog.sizes import format_size, parse_size
from server.database.records import ApiKey
from server.errors import ProviderUnavailable
from server.pipeline.requests import ImageRequest
from server.providers.base import GenerationJob, Provider
from server.providers.plugin import ProviderPlugin

# Of the caller's remaining time, this much is kept back to store and answer after the upstream
# answers (or to report its timeout as ours, in our format).
DEADLINE_MARGIN_S = 1.0
DEADLINE_MARGIN_SHARE = 0.1


class Router:
    def __init__(self, catalog: Catalog, sandbox: Provider, live: dict[str, Provider] | None = None,
                 plugins: Mapping[str, ProviderPlugin] | None = None) -> None:
        self._catalog = catalog
        self._sandbox = sandbox
        self._live = live or {}
        self._plugins = plugins or {}

    def provider_for(self, caller: ApiKey, model: ModelSpec) -> Provider:
        if caller.is_test:
            return self._sandbox
        provider = self._live.get(model.provider)
        if provider is None:
            plugin = self._plugins.get(model.provider)
            name, env = (plugin.name, plugin.hint) if plugin else (model.provider, "its settings")
            raise ProviderUnavailable(
                f"{model.id} is served by {name}, which is not configured on this gateway: set {env}. "
                "Test keys (pk_test_…) work without it.",
                metadata={"provider": model.provider, "env": env})
        return provider

    def job_for(self, caller: ApiKey, request: ImageRequest, time_remaining: float | None) -> GenerationJob:
        """The job the chosen provider gets; `time_remaining` is the caller's (gRPC) deadline in seconds."""
        if caller.is_test:
            return GenerationJob(prompt=request.prompt, model=request.model.id, upstream_model=request.model.id,
                                 n=request.n, width=request.width, height=request.height, quality=request.quality,
                                 style=request.style)
        return live_job(request, time_remaining)


def live_job(request: ImageRequest, time_remaining: float | None) -> GenerationJob:
    """The request in its upstream deployment's vocabulary (catalog data, see models.toml)."""
    deployment = request.model.deployment or Deployment(upstream_model=request.model.id)
    upstream_size = parse_size(deployment.size.get(format_size(request.width, request.height), ""))
    deadline = None
    if time_remaining is not None:
        margin = min(DEADLINE_MARGIN_S, time_remaining * DEADLINE_MARGIN_SHARE)
        deadline = time.monotonic() + max(0.0, time_remaining - margin)
    return GenerationJob(
        prompt=request.prompt, model=request.model.id, upstream_model=deployment.upstream_model, n=request.n,
        width=request.width, height=request.height,
        quality=deployment.quality.get(request.quality, ""),
        style=deployment.style.get(request.style) if request.style else None,
        extras=dict(deployment.params), upstream_size=upstream_size, deadline=deadline)
