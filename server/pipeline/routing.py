"""Chooses who generates a request and in which words: the sandbox for test keys; for live keys the
deployment that serves the model today (catalog data and lifecycle) and its configured provider."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from server.catalog import Catalog, Deployment
from server.catalog.lifecycle import Lifecycles
from server.catalog.sizes import format_size, parse_size
from server.database.records import ApiKey
from server.errors import InvalidRequest, ProviderUnavailable
from server.pipeline.requests import GENERATION, ImageRequest
from server.providers.base import GenerationJob, PartialImage, Provider
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

    def route(self, caller: ApiKey, request: ImageRequest) -> Route:
        """Who serves `request`: test keys the sandbox, live keys the deployment serving the model today.

        Either way the deployment must be able to do what is asked (an edit, a mask, so many images),
        so test mode refuses exactly what live mode would."""
        model = request.model
        deployment = self.lifecycles.serving(model)
        if deployment is not None and request.images:
            can_edit(request, deployment)
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

    def job_for(self, route: Route, request: ImageRequest, time_remaining: float | None,
                on_partial: Callable[[PartialImage], Awaitable[None]] | None = None) -> GenerationJob:
        """The job the chosen provider gets; `time_remaining` is the caller's (gRPC) deadline in seconds."""
        if route.sandbox or route.deployment is None:
            return replace(_common(request, on_partial), upstream_model=request.model.id, quality=request.quality,
                           style=request.style)
        return live_job(request, route.deployment, time_remaining, on_partial)


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


def _common(request: ImageRequest, on_partial: Callable[[PartialImage], Awaitable[None]] | None) -> GenerationJob:
    out = request.output
    return GenerationJob(
        prompt=request.prompt, model=request.model.id, upstream_model="", n=request.n, width=request.width,
        height=request.height, quality="", style=None, kind="generation" if request.kind == GENERATION else "edit",
        images=request.images, mask=request.mask, output_format=out.format, output_compression=out.compression,
        background=out.background, moderation=out.moderation, input_fidelity=request.input_fidelity,
        size_auto=request.size_auto, partial_images=request.partial_images, on_partial=on_partial)


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
    return replace(_common(request, on_partial if deployment.stream else None),
                   upstream_model=upstream_model, quality=deployment.quality.get(request.quality, ""),
                   style=deployment.style.get(request.style) if request.style else None,
                   extras=params, upstream_size=upstream_size, deadline=deadline)
