"""Chooses who generates a request and in which words: the sandbox for test keys; for live keys the
deployment that serves the model today (catalog data and lifecycle) and its configured provider."""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from server.catalog import Catalog, Deployment, ModelSpec
from server.catalog.lifecycle import Lifecycles
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


@dataclass(frozen=True)
class Route:
    provider: Provider
    # The deployment that serves the model today; test keys get the sandbox, but their ledger rows
    # still name the deployment a live key would have used.
    deployment: Deployment | None
    sandbox: bool = False


class Router:
    def __init__(self, catalog: Catalog, lifecycles: Lifecycles, sandbox: Provider,
                 live: dict[str, Provider] | None = None, plugins: Mapping[str, ProviderPlugin] | None = None) -> None:
        self._catalog = catalog
        self.lifecycles = lifecycles
        self._sandbox = sandbox
        self._live = live or {}
        self._plugins = plugins or {}

    def route(self, caller: ApiKey, model: ModelSpec) -> Route:
        deployment = self.lifecycles.serving(model)
        if caller.is_test:
            return Route(self._sandbox, deployment, sandbox=True)
        if deployment is None:
            raise ProviderUnavailable(f"{model.id} has no live upstream deployment left; the operator must add a "
                                      "successor to the catalog", metadata={"model": model.id})
        provider = self._live.get(deployment.provider)
        if provider is None:
            plugin = self._plugins.get(deployment.provider)
            name, env = (plugin.name, plugin.hint) if plugin else (deployment.provider, "its settings")
            raise ProviderUnavailable(
                f"{model.id} is served by {name}, which is not configured on this gateway: set {env}. "
                "Test keys (pk_test_…) work without it.",
                metadata={"provider": deployment.provider, "env": env})
        return Route(provider, deployment)

    def job_for(self, route: Route, request: ImageRequest, time_remaining: float | None) -> GenerationJob:
        """The job the chosen provider gets; `time_remaining` is the caller's (gRPC) deadline in seconds."""
        if route.sandbox or route.deployment is None:
            return GenerationJob(prompt=request.prompt, model=request.model.id, upstream_model=request.model.id,
                                 n=request.n, width=request.width, height=request.height, quality=request.quality,
                                 style=request.style)
        return live_job(request, route.deployment, time_remaining)


def live_job(request: ImageRequest, deployment: Deployment, time_remaining: float | None) -> GenerationJob:
    """The request in its upstream deployment's vocabulary (catalog data, see models.toml)."""
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
