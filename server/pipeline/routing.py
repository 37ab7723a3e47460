"""Chooses who generates a request and in which words: the sandbox for test keys; for live keys the
deployments that serve the model today, in order (catalog data and lifecycle: the first, then its
fallbacks), with their configured providers. failover.py walks that chain."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from server.catalog import Catalog, Deployment
from server.catalog.lifecycle import Lifecycles
from server.catalog.sizes import format_size, parse_size
from server.database.records import ApiKey
from server.errors import InvalidRequest, ProviderUnavailable
from server.pipeline.breakers import Breakers
from server.pipeline.requests import GENERATION, ImageRequest
from server.providers.base import GenerationJob, Param, PartialImage, Provider
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
                 live: dict[str, Provider] | None = None, plugins: Mapping[str, ProviderPlugin] | None = None,
                 breakers: Breakers | None = None) -> None:
        self._catalog = catalog
        self.lifecycles = lifecycles
        self.breakers = breakers or Breakers()
        self._sandbox = sandbox
        self._live = live or {}
        self._plugins = plugins or {}

    def route(self, caller: ApiKey, request: ImageRequest) -> Route:
        """Who serves `request` first: test keys the sandbox, live keys the first of `chain`."""
        return self.chain(caller, request)[0]

    def chain(self, caller: ApiKey, request: ImageRequest) -> list[Route]:
        """Who may serve `request`, in the order to try them; refuses what no deployment can serve.

        Live keys: the model's live deployments (Lifecycles.live_chain) whose provider is configured,
        the fallbacks only where they can do what is asked (an edit, a mask, so many images). Test
        keys: the sandbox, naming the deployment a live key would have used first. The first live
        deployment decides what is refused, for both modes, so test mode refuses exactly what live
        mode would and GET /v1/models (which shows the first's capabilities) stays true."""
        model = request.model
        live = self.lifecycles.live_chain(model)
        if live and request.images:
            can_edit(request, live[0])
            live = [live[0], *(d for d in live[1:] if _capable(request, d))]
        if caller.is_test:
            return [Route(self._sandbox, live[0] if live else None, sandbox=True)]
        if not live:
            raise ProviderUnavailable(f"{model.id} has no live upstream deployment left; the operator must add a "
                                      "successor to the catalog", metadata={"model": model.id})
        routes = [Route(self._live[d.provider], d) for d in live if d.provider in self._live]
        if not routes:
            first = live[0]
            plugin = self._plugins.get(first.provider)
            name, env = (plugin.name, plugin.hint) if plugin else (first.provider, "its settings")
            raise ProviderUnavailable(
                f"{model.id} is served by {name}, which is not configured on this gateway: set {env}. "
                "Test keys (pk_test_…) work without it.",
                metadata={"provider": first.provider, "env": env})
        return routes

    def configured(self, deployment: Deployment) -> bool:
        return deployment.provider in self._live

    def job_for(self, route: Route, request: ImageRequest, time_remaining: float | None,
                on_partial: Callable[[PartialImage], Awaitable[None]] | None = None) -> GenerationJob:
        """The job the chosen provider gets; `time_remaining` is the caller's (gRPC) deadline in seconds."""
        if route.sandbox or route.deployment is None:
            return _common(request, on_partial, upstream_model=request.model.id, quality=request.quality,
                           style=request.style)
        return live_job(request, route.deployment, time_remaining, on_partial)


def _capable(request: ImageRequest, deployment: Deployment) -> bool:
    try:
        can_edit(request, deployment)
    except InvalidRequest:
        return False
    return True


def can_edit(request: ImageRequest, deployment: Deployment) -> None:
    """Refuse, naming the parameter, an edit the deployment cannot make."""
    model = request.model.id
    masked = request.mask is not None
    if deployment.max_input_images == 0:
        raise InvalidRequest(f"{model} cannot edit images", param="model")
    if masked and not deployment.takes_mask:
        raise InvalidRequest(f"{model} takes no mask (its upstream edits whole images from the prompt)",
                             param="mask")
    route = deployment.edit_route(masked)
    if route is None:
        raise InvalidRequest(f"{model} edits need a mask (its upstream only inpaints)", param="mask")
    if len(request.images) > route.max_images:
        limit = route.max_images
        raise InvalidRequest(f"{model} takes at most {limit} input image{'s' if limit > 1 else ''}"
                             + (" with a mask" if masked and route is deployment.inpaint else ""), param="image")


def _common(request: ImageRequest, on_partial: Callable[[PartialImage], Awaitable[None]] | None, *,
            upstream_model: str, quality: str, style: str | None, extras: dict[str, Param] | None = None,
            upstream_size: tuple[int, int] | None = None, deadline: float | None = None,
            region: str | None = None) -> GenerationJob:
    """The job: the request's fields and the upstream's, made once (a dataclasses.replace of a first
    job made per request cost more than the rest of live_job)."""
    out = request.output
    return GenerationJob(
        prompt=request.prompt, model=request.model.id, n=request.n, width=request.width, height=request.height,
        kind="generation" if request.kind == GENERATION else "edit", images=request.images, mask=request.mask,
        output_format=out.format, output_compression=out.compression, background=out.background,
        moderation=out.moderation, input_fidelity=request.input_fidelity, size_auto=request.size_auto,
        partial_images=request.partial_images, on_partial=on_partial, upstream_model=upstream_model,
        quality=quality, style=style, extras={} if extras is None else extras, upstream_size=upstream_size,
        deadline=deadline, region=region)


def live_job(request: ImageRequest, deployment: Deployment, time_remaining: float | None,
             on_partial: Callable[[PartialImage], Awaitable[None]] | None = None) -> GenerationJob:
    """The request in its upstream deployment's vocabulary (catalog data, see models.toml)."""
    upstream_size = parse_size(deployment.size.get(format_size(request.width, request.height), ""))
    deadline = None
    if time_remaining is not None:
        margin = min(DEADLINE_MARGIN_S, time_remaining * DEADLINE_MARGIN_SHARE)
        deadline = time.monotonic() + max(0.0, time_remaining - margin)
    upstream_model, params = deployment.upstream_model, dict(deployment.params)
    if request.images:
        edit = deployment.edit_route(request.mask is not None)
        assert edit is not None  # the router refused the request otherwise (can_edit)
        upstream_model, params = edit.upstream_model, {**params, **edit.params}
    return _common(request, on_partial if deployment.stream else None,
                   upstream_model=upstream_model, quality=deployment.quality.get(request.quality, ""),
                   style=deployment.style.get(request.style) if request.style else None,
                   extras=params, upstream_size=upstream_size, deadline=deadline, region=deployment.region)
