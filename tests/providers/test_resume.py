"""The submit-then-poll adapters' seam for async jobs (GenerationJob.resumption), against their fakes: each
accepted task's handle is reported before it is polled, a resumed job polls the saved handles and submits
nothing, and a task without one fails unsubmitted. BFL, fal.ai (queue) and Replicate (predictions)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from server.errors import UpstreamError
from server.providers.base import Handle, Resumption
from tests.fakes.base import seen
from tests.fakes.testing import sync

from .support import job, live


def submits(c) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for s in seen(c.app) if s.method == "POST" and s.path.startswith("/v1/flux"))


@sync
async def test_accepted_tasks_report_their_handles_then_a_resumed_job_polls_them_without_submitting() -> None:
    reported: dict[int, Handle] = {}

    async def accepted(index: int, handle: Handle) -> None:
        assert submits(c) >= 1  # reported once BFL has accepted the task, before any poll of it
        reported[index] = handle

    async with live("bfl", polls_before_ready=1) as (provider, c):
        first = await provider.generate(replace(job("flux-pro", n=2), resumption=Resumption(on_accepted=accepted)))
        assert sorted(reported) == [0, 1] and submits(c) == 2 and len(first.images) == 2
        assert all(h["id"] and h["polling_url"].startswith(c.url) and float(h["cost"]) == 4.0
                   for h in reported.values())
        again: list[int] = []

        async def never(index: int, handle: Handle) -> None:
            again.append(index)

        resumed = await provider.generate(replace(job("flux-pro", n=2),
                                                  resumption=Resumption(on_accepted=never, saved=dict(reported))))
    assert submits(c) == 2 and not again and len(c.charges) == 2  # nothing submitted a second time
    assert len(resumed.images) == 2 and resumed.upstream_cost_micros == first.upstream_cost_micros == 80_000


@sync
async def test_a_resumed_task_without_a_saved_handle_fails_and_is_never_submitted() -> None:
    async def ignore(index: int, handle: Handle) -> None:
        return None

    async with live("bfl") as (provider, c):
        with pytest.raises(UpstreamError) as failed:
            await provider.generate(replace(job("flux-pro"), resumption=Resumption(on_accepted=ignore, saved={})))
    assert submits(c) == 0 and not c.charges
    assert failed.value.retry_safe is False and "not submitted again" in failed.value.message


@sync
async def test_a_saved_polling_url_elsewhere_never_receives_our_key() -> None:
    async def ignore(index: int, handle: Handle) -> None:
        return None

    spoofed = {0: {"id": "t", "polling_url": "http://169.254.169.254/v1/get_result?id=t", "cost": ""}}
    async with live("bfl") as (provider, c):
        with pytest.raises(UpstreamError):
            await provider.generate(replace(job("flux-pro"), resumption=Resumption(on_accepted=ignore, saved=spoofed)))
    assert submits(c) == 0


@pytest.mark.parametrize(("kind", "model", "deployment", "submit_prefix"), [
    ("fal", "flux-dev", "flux-dev/fal", "/fal-ai/"),
    ("replicate", "flux-pro", "flux-pro/replicate", "/v1/models/"),
])
@sync
async def test_each_queueing_host_resumes_by_its_saved_handle(kind: str, model: str, deployment: str,
                                                              submit_prefix: str) -> None:
    reported: dict[int, Handle] = {}

    async def accepted(index: int, handle: Handle) -> None:
        reported[index] = handle

    def posts() -> int:
        return sum(1 for s in seen(c.app) if s.method == "POST" and s.path.startswith(submit_prefix))

    async with live(kind, polls_before_ready=2) as (provider, c):
        first = await provider.generate(replace(job(model, deployment_id=deployment, n=2),
                                                resumption=Resumption(on_accepted=accepted)))
        made = posts()
        assert made >= 1 and sorted(reported) == list(range(made)) and len(first.images) == 2
        resumed = await provider.generate(replace(job(model, deployment_id=deployment, n=2),
                                                  resumption=Resumption(on_accepted=accepted, saved=dict(reported))))
        assert posts() == made and len(resumed.images) == 2  # polled again, never submitted again
        with pytest.raises(UpstreamError) as failed:
            await provider.generate(replace(job(model, deployment_id=deployment),
                                            resumption=Resumption(on_accepted=accepted, saved={})))
        assert posts() == made and failed.value.retry_safe is False
