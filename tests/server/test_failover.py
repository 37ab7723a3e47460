"""Failover down a model's chain (server/pipeline/failover.py) with scripted providers: which failures
move on to the next deployment, which are answered as they are, and how circuits and lifecycle join in."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import load_catalog
from server.catalog.lifecycle import Lifecycles
from server.database.records import ApiKey
from server.errors import (
    ContentPolicyViolation,
    InvalidRequest,
    ModelGone,
    PerfError,
    ProviderUnavailable,
    Timeout,
    UpstreamError,
)
from server.pipeline.breakers import CLOSED, OPEN, Breakers, BreakerSettings
from server.pipeline.failover import Failover
from server.pipeline.kinds import Rules, validate_edit, validate_generation
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import Route, Router
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.registry import declared
from server.providers.sandbox import SandboxProvider
from tests.fakes.images import make_image

CATALOG = load_catalog()
IMAGE = GeneratedImage(b"png", "image/png", 1024, 1024)
Outcome = PerfError | GenerationResult | Callable[[GenerationJob], Any]


class Scripted:
    """A provider answering each call with the next scripted outcome (a result, or an error to raise)."""

    def __init__(self, name: str, *outcomes: Outcome) -> None:
        self.name = name
        self.outcomes = list(outcomes)
        self.jobs: list[GenerationJob] = []

    async def generate(self, job: GenerationJob) -> GenerationResult:
        self.jobs.append(job)
        outcome = self.outcomes.pop(0) if self.outcomes else ok(job.upstream_model)
        if isinstance(outcome, PerfError):
            raise outcome
        if callable(outcome):
            return outcome(job)  # type: ignore[no-any-return]
        return outcome


def ok(model: str = "x", images: int = 1, filtered: int = 0) -> GenerationResult:
    return GenerationResult(images=(IMAGE,) * images, revised_prompt="", model_used=model, filtered=filtered)


def key(mode: str = "live") -> ApiKey:
    return ApiKey(id="key_x", mode=mode, tier="pro", name="", hint="", created_at=0, revoked_at=None)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def setup(failures: int = 3, **providers: Scripted) -> tuple[Failover, Router, Clock]:
    clock = Clock()
    lifecycles = Lifecycles(CATALOG, lambda: dt.date(2026, 12, 1))
    router = Router(CATALOG, lifecycles, SandboxProvider(), dict(providers), declared(),
                    breakers=Breakers(BreakerSettings(failures=failures, cooldown_s=30), clock))
    return Failover(router), router, clock


def generation(model: str = "flux-dev", **fields: Any) -> ImageRequest:
    return validate_generation(pb.GenerateImagesRequest(prompt="a fox", model=model, **fields), Rules(CATALOG), False)


def run(failover: Failover, valid: ImageRequest, mode: str = "live") -> tuple[Route, GenerationResult, list[str]]:
    asked: list[str] = []

    def routed(route: Route) -> None:
        asked.append(route.deployment.id if route.deployment else "-")

    route, result = asyncio.run(failover.generate(key(mode), valid, 10.0, None, routed))
    return route, result, asked


def fails(failover: Failover, valid: ImageRequest) -> PerfError:
    with pytest.raises(PerfError) as caught:
        run(failover, valid)
    return caught.value


SAFE = [UpstreamError("unreachable", retry_safe=True), ProviderUnavailable("429 not waited out", retry_safe=True)]
UNSAFE = [UpstreamError("500 after submit"), Timeout("deadline"), ProviderUnavailable("key refused"),
          UpstreamError("a poll failed", retry_safe=None)]


@pytest.mark.parametrize("error", SAFE)
def test_a_failure_that_charged_nothing_moves_to_the_next_deployment(error: PerfError) -> None:
    bfl, fal = Scripted("bfl", error), Scripted("fal")
    failover, _, _ = setup(bfl=bfl, fal=fal)
    route, result, asked = run(failover, generation())
    assert asked == ["flux-dev/flux-2-klein-9b", "flux-dev/fal"] and route.deployment.id == "flux-dev/fal"  # type: ignore[union-attr]
    assert result.model_used == "fal-ai/flux/dev" and fal.jobs[0].upstream_model == "fal-ai/flux/dev"
    assert (fal.jobs[0].width, fal.jobs[0].height, fal.jobs[0].extras) == (1024, 1024, {"enable_safety_checker": True})


@pytest.mark.parametrize("error", UNSAFE)
def test_a_failure_after_the_upstream_may_have_taken_the_work_is_answered_as_it_is(error: PerfError) -> None:
    bfl, fal = Scripted("bfl", error), Scripted("fal")
    failover, _, _ = setup(bfl=bfl, fal=fal)
    assert fails(failover, generation()) is error
    assert fal.jobs == []


def test_a_200_without_an_image_is_a_counted_failure_and_is_not_fallen_over() -> None:
    bfl, fal = Scripted("bfl", ok(images=0), ok(images=0)), Scripted("fal")
    failover, router, _ = setup(failures=2, bfl=bfl, fal=fal)
    for _ in range(2):
        error = fails(failover, generation())
        assert isinstance(error, UpstreamError) and error.retry_safe is False and "without any image" in error.message
    assert fal.jobs == [] and router.breakers.view("flux-dev/flux-2-klein-9b")[0] == OPEN
    withheld = Scripted("bfl", ok(images=0, filtered=2))
    failover, router, _ = setup(failures=1, bfl=withheld, fal=fal)
    assert isinstance(fails(failover, generation(n=2)), ContentPolicyViolation)
    assert router.breakers.view("flux-dev/flux-2-klein-9b")[0] == CLOSED  # moderation is the upstream working


def test_an_open_circuit_is_skipped_and_a_probe_after_the_cool_down_closes_it() -> None:
    bfl = Scripted("bfl", *[UpstreamError("down", retry_safe=True)] * 2)
    fal = Scripted("fal")
    failover, router, clock = setup(failures=2, bfl=bfl, fal=fal)
    for _ in range(2):
        assert run(failover, generation())[2] == ["flux-dev/flux-2-klein-9b", "flux-dev/fal"]
    assert router.breakers.view("flux-dev/flux-2-klein-9b") == (OPEN, 30.0)
    assert run(failover, generation())[2] == ["flux-dev/fal"] and len(bfl.jobs) == 2  # skipped
    clock.now += 30
    route, _, asked = run(failover, generation())  # the probe: BFL answers again
    assert asked == ["flux-dev/flux-2-klein-9b"] and route.deployment.provider == "bfl"  # type: ignore[union-attr]
    assert router.breakers.view("flux-dev/flux-2-klein-9b") == (CLOSED, 0.0)


def test_every_circuit_open_is_503_with_the_soonest_retry_after() -> None:
    bfl = Scripted("bfl", UpstreamError("down", retry_safe=True))
    fal = Scripted("fal", ProviderUnavailable("503", retry_safe=True))
    failover, _, clock = setup(failures=1, bfl=bfl, fal=fal)
    first = fails(failover, generation())
    assert first.message == "503"  # the last real failure, when something was asked
    clock.now += 10
    error = fails(failover, generation())
    assert isinstance(error, ProviderUnavailable) and error.retry_after == 20.0 and error.retry_safe is True
    assert "circuit open" in error.message and (len(bfl.jobs), len(fal.jobs)) == (1, 1)


def test_refusals_of_the_request_itself_count_as_the_upstream_working() -> None:
    bfl = Scripted("bfl", *[InvalidRequest("bad")] * 3, *[ContentPolicyViolation("no")] * 3)
    failover, router, _ = setup(failures=2, bfl=bfl, fal=Scripted("fal"))
    for _ in range(6):
        fails(failover, generation())
    assert router.breakers.view("flux-dev/flux-2-klein-9b")[0] == CLOSED


def test_a_gone_model_retires_its_deployment_and_the_chain_moves_on() -> None:
    bfl, fal = Scripted("bfl", ModelGone("404")), Scripted("fal")
    failover, router, _ = setup(bfl=bfl, fal=fal)
    assert run(failover, generation())[2] == ["flux-dev/flux-2-klein-9b", "flux-dev/fal"]
    assert "flux-dev/flux-2-klein-9b" in router.lifecycles.gone
    assert run(failover, generation())[2] == ["flux-dev/fal"]


def test_an_unconfigured_fallback_is_skipped_and_an_unconfigured_first_is_passed_over() -> None:
    failover, _, _ = setup(bfl=Scripted("bfl", UpstreamError("down", retry_safe=True)))
    assert fails(failover, generation()).message == "down"
    failover, _, _ = setup(fal=Scripted("fal"))
    assert run(failover, generation())[2] == ["flux-dev/fal"]
    failover, _, _ = setup(openai=Scripted("openai"))
    error = fails(failover, generation())
    assert isinstance(error, ProviderUnavailable) and "BFL_API_KEY" in error.message


def test_edits_go_only_to_deployments_that_can_make_them_and_test_keys_are_refused_alike() -> None:
    bfl, fal = Scripted("bfl", UpstreamError("down", retry_safe=True)), Scripted("fal")
    failover, router, _ = setup(bfl=bfl, fal=fal)
    image = make_image(64, 64)
    valid = validate_edit(pb.EditImagesRequest(prompt="a hat", model="flux-dev", images=[image]), Rules(CATALOG), False)
    assert [r.deployment.id for r in router.chain(key(), valid)] == ["flux-dev/flux-2-klein-9b"]  # type: ignore[union-attr]
    assert fails(failover, valid).message == "down" and fal.jobs == []  # fal.ai's deployment cannot edit
    too_many = validate_edit(pb.EditImagesRequest(prompt="a hat", model="flux-dev", images=[image] * 5),
                             Rules(CATALOG), False)
    for mode in ("live", "test"):
        with pytest.raises(InvalidRequest, match="at most 4 input images"):
            router.chain(key(mode), too_many)


def test_test_keys_get_the_sandbox_whatever_the_circuits_say() -> None:
    bfl = Scripted("bfl", UpstreamError("down", retry_safe=True))
    failover, router, _ = setup(failures=1, bfl=bfl, fal=Scripted("fal", UpstreamError("down", retry_safe=True)))
    fails(failover, generation())
    assert router.breakers.view("flux-dev/flux-2-klein-9b")[0] == OPEN
    route, result, asked = run(failover, generation(), mode="test")
    assert route.sandbox and asked == ["flux-dev/flux-2-klein-9b"] and len(result.images) == 1


def test_the_callers_deadline_covers_the_whole_chain() -> None:
    async def slow_then_refused(job: GenerationJob) -> GenerationResult:
        await asyncio.sleep(0.3)
        raise UpstreamError("down", retry_safe=True)

    class Slow(Scripted):
        async def generate(self, job: GenerationJob) -> GenerationResult:
            self.jobs.append(job)
            return await slow_then_refused(job)

    bfl, fal = Slow("bfl"), Scripted("fal")
    failover, _, _ = setup(bfl=bfl, fal=fal)
    run(failover, generation())
    assert bfl.jobs[0].deadline is not None and fal.jobs[0].deadline is not None
    assert fal.jobs[0].deadline - bfl.jobs[0].deadline < 0.1  # not a fresh 10 s for the fallback
