"""Live adapters wired to a fake upstream over a real loopback socket, built through the real registry.

``async with live("openai", rate_limit_next=1) as (provider, c)`` serves the fake, builds the
provider exactly as the server does (settings → registry → one session), and closes it after.
``job("dall-e-3", size="1792x1024")`` is a GenerationJob made by the real validation and routing;
``edit_job("flux-pro", [png], mask=m)`` and ``variation_job("dall-e-2", png)`` the same for edits
and variations (the router's checks included). Pass ``on_partial`` to make the job of a streamed request.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import load_catalog
from server.catalog.lifecycle import Lifecycles
from server.pipeline.kinds import Rules, validate_edit, validate_generation, validate_variation
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import can_edit, live_job
from server.providers.base import GenerationJob, PartialImage, Provider
from server.providers.registry import start_live_providers
from server.providers.settings import ProviderSettings
from tests.fakes import bfl, fal, google, ideogram, openai, replicate, stability, together
from tests.fakes.testing import Ctx, fake

CATALOG = load_catalog()
LIFECYCLES = Lifecycles(CATALOG, lambda: dt.date(2026, 12, 1))
FACTORIES = {"openai": openai.make_app, "stability": stability.make_app, "bfl": bfl.make_app,
             "ideogram": ideogram.make_app, "google": google.make_app, "fal": fal.make_app,
             "replicate": replicate.make_app, "together": together.make_app}


def settings_for(kind: str, url: str, **env: str) -> ProviderSettings:
    """Settings as the server would read them from an environment pointing `kind` at the fake at `url`."""
    host_port = url.split("://", 1)[1]
    values = {"PERF_INSECURE_HTTP_HOSTS": host_port, "PERF_BFL_POLL_INTERVAL_SECONDS": "0.01",
              "PERF_FAL_POLL_INTERVAL_SECONDS": "0.01", "PERF_REPLICATE_POLL_INTERVAL_SECONDS": "0.01",
              "PERF_UPSTREAM_DEADLINE_SECONDS": "10"}
    values.update({
        "openai": {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": url + "/v1"},
        "stability": {"STABILITY_API_KEY": "test-key", "STABILITY_BASE_URL": url},
        "bfl": {"BFL_API_KEY": "test-key", "BFL_BASE_URL": url},
        "ideogram": {"IDEOGRAM_API_KEY": "test-key", "IDEOGRAM_BASE_URL": url},
        "google": {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": url},
        "fal": {"FAL_KEY": "test-key", "FAL_QUEUE_URL": url},
        "replicate": {"REPLICATE_API_TOKEN": "test-key", "REPLICATE_BASE_URL": url},
        "together": {"TOGETHER_API_KEY": "test-key", "TOGETHER_BASE_URL": url},
        "vertex": {"VERTEX_PROJECT": "proj", "VERTEX_LOCATION": "us-central1", "VERTEX_ACCESS_TOKEN": "test-key",
                   "VERTEX_BASE_URL": url},
    }[kind])
    if "PERF_INSECURE_HTTP_HOSTS" in env:  # more trusted hosts (another fake), beside this one
        env = {**env, "PERF_INSECURE_HTTP_HOSTS": f"{host_port},{env['PERF_INSECURE_HTTP_HOSTS']}"}
    values.update(env)
    return ProviderSettings.from_env(values)


@asynccontextmanager
async def live(kind: str, settings: dict[str, str] | None = None,
               **knobs: Any) -> AsyncIterator[tuple[Provider, Ctx]]:
    factory = FACTORIES["google" if kind == "vertex" else kind]
    async with fake(factory, **knobs) as c:
        providers = await start_live_providers(settings_for(kind, c.url, **(settings or {})))
        try:
            yield providers.providers["google" if kind == "vertex" else kind], c
        finally:
            await providers.close()


OnPartial = Callable[[PartialImage], Awaitable[None]]


def job(model: str, *, time_remaining: float | None = 10.0, on_partial: OnPartial | None = None,
        deployment_id: str | None = None, **fields: Any) -> GenerationJob:
    """The job for `model` as its serving deployment (or the one named, e.g. a fallback) would get it."""
    valid = validate_generation(pb.GenerateImagesRequest(prompt=fields.pop("prompt", "a red fox in snow"),
                                                         model=model, **fields), Rules(CATALOG), on_partial is not None)
    return _routed(valid, time_remaining, on_partial, deployment_id)


def edit_job(model: str, images: Sequence[bytes], *, mask: bytes | None = None, time_remaining: float | None = 10.0,
             on_partial: OnPartial | None = None, **fields: Any) -> GenerationJob:
    request = pb.EditImagesRequest(prompt=fields.pop("prompt", "make it night"), model=model, images=list(images),
                                   **fields)
    if mask is not None:
        request.mask = mask
    return _routed(validate_edit(request, Rules(CATALOG), on_partial is not None), time_remaining, on_partial)


def variation_job(model: str, image: bytes, *, time_remaining: float | None = 10.0, **fields: Any) -> GenerationJob:
    valid = validate_variation(pb.CreateImageVariationRequest(image=image, model=model, **fields), Rules(CATALOG),
                               False)
    return _routed(valid, time_remaining, None)


def _routed(valid: ImageRequest, time_remaining: float | None, on_partial: OnPartial | None,
            deployment_id: str | None = None) -> GenerationJob:
    deployment = CATALOG.deployments[deployment_id] if deployment_id else LIFECYCLES.serving(valid.model)
    assert deployment is not None
    if valid.images:
        can_edit(valid, deployment)  # as the router checks before any job is made
    return live_job(valid, deployment, time_remaining, on_partial)


def repointed(base: GenerationJob, **changes: Any) -> GenerationJob:
    """The job as an operator's edited deployment would make it."""
    return replace(base, **changes)


async def settle() -> None:
    """Let cancelled callbacks and closing transports run."""
    for _ in range(5):
        await asyncio.sleep(0.01)


def our_tasks() -> list[asyncio.Task[object]]:
    """Tasks running code of the server package (the fake shares the loop and keeps its own)."""
    tasks = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        if code is not None and "/server/" in code.co_filename and task is not asyncio.current_task():
            tasks.append(task)
    return tasks
