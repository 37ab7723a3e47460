"""The one-image-per-call adapters (Stability, BFL) against their fakes: fan-out within the cap, partial
moderation, polling, and every failure class with the upstream's charges counted."""
from __future__ import annotations

import asyncio
import time

import pytest

from server.errors import ContentPolicyViolation, ModelGone, ProviderUnavailable, UpstreamError
from tests.fakes.base import seen
from tests.fakes.testing import sync

from .support import job, live, our_tasks, settle


def submits(c, prefix: str = "/v1/flux") -> int:  # type: ignore[no-untyped-def]
    return sum(1 for s in seen(c.app) if s.method == "POST" and s.path.startswith(prefix))


def polls(c) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for s in seen(c.app) if s.path == "/v1/get_result")


# ---------------------------------------------------------------- Stability


@sync
async def test_stability_fans_out_multipart_calls_with_the_aspect_ratio() -> None:
    async with live("stability") as (provider, c):
        result = await provider.generate(job("stable-diffusion-3", size="1920x1080", n=3))
    assert len(seen(c.app)) == 3 and c.charges.images() == 3
    sent = seen(c.app)[0]
    assert sent.headers["Content-Type"].startswith("multipart/form-data") and sent.headers["Accept"] == "image/*"
    assert (sent.body["model"], sent.body["aspect_ratio"], sent.body["output_format"]) == ("sd3.5-medium", "16:9", "png")
    assert [(i.width, i.height) for i in result.images] == [(1344, 768)] * 3
    assert result.model_used == "sd3.5-medium" and result.filtered == 0


@sync
async def test_stability_partial_moderation_delivers_the_rest() -> None:
    async with live("stability", moderate_output_indexes={1}) as (provider, c):
        result = await provider.generate(job("stable-diffusion-3", n=3))
    assert (len(result.images), result.filtered) == (2, 1)
    assert c.charges.images() == 3  # Stability bills the filtered one; we bill only the two delivered


@pytest.mark.parametrize("knobs", [{"moderate_output_indexes": {0, 1}}, {"moderate_input": True}])
@sync
async def test_stability_everything_moderated_is_content_policy_violation(knobs: dict) -> None:
    async with live("stability", **knobs) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("stable-diffusion-3", n=2))


@pytest.mark.parametrize(("knob", "charges"), [("fail_after_charge_next", 1), ("malformed_body_next", 1),
                                               ("fail_before_charge_next", 0)])
@sync
async def test_stability_failure_after_submit_is_502_and_not_resubmitted(knob: str, charges: int) -> None:
    async with live("stability", **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError):
            await provider.generate(job("stable-diffusion-3"))
    assert len(seen(c.app)) == 1 and len(c.charges) == charges


@sync
async def test_stability_one_failed_call_of_three_still_delivers_two() -> None:
    async with live("stability", fail_after_charge_next=1) as (provider, c):
        result = await provider.generate(job("stable-diffusion-3", n=3))
    assert len(result.images) == 2 and result.filtered == 0 and len(c.charges) == 3 and len(seen(c.app)) == 3


@sync
async def test_stability_fan_out_respects_the_concurrency_cap() -> None:
    async with live("stability", {"PERF_STABILITY_MAX_CONCURRENCY": "1"}, latency_s=0.1) as (provider, c):
        started = time.monotonic()
        await provider.generate(job("stable-diffusion-3", n=3))
    assert time.monotonic() - started >= 0.3  # one at a time


@sync
async def test_stability_rate_limit_retry_and_rejected_key() -> None:
    async with live("stability", rate_limit_next=1, retry_after_s=0.1) as (provider, c):
        assert len((await provider.generate(job("stable-diffusion-3"))).images) == 1
        assert len(seen(c.app)) == 2 and len(c.charges) == 1
        c.knobs.expected_api_key = "rotated"
        with pytest.raises(ProviderUnavailable, match="STABILITY_API_KEY"):
            await provider.generate(job("stable-diffusion-3"))


# ---------------------------------------------------------------- BFL


@sync
async def test_bfl_submits_polls_and_downloads_each_image() -> None:
    async with live("bfl", polls_before_ready=2) as (provider, c):
        result = await provider.generate(job("flux-pro", size="1000x700", n=2))
    assert submits(c) == 2 and polls(c) == 2 * 3 and c.charges.images() == 2
    body = next(s.body for s in seen(c.app) if s.method == "POST")
    assert (body["width"], body["height"], body["safety_tolerance"], body["output_format"]) == (992, 704, 2, "png")
    assert all(s.headers.get("x-key") == "test-key" for s in seen(c.app))
    assert [(i.width, i.height) for i in result.images] == [(992, 704)] * 2
    assert result.model_used == "flux-pro-1.1" and result.upstream_cost_micros == 2 * 40_000  # 4 credits each


@sync
async def test_bfl_partial_and_full_moderation() -> None:
    async with live("bfl", moderate_output_indexes={0}) as (provider, c):
        result = await provider.generate(job("flux-dev", n=2))
        assert (len(result.images), result.filtered) == (1, 1)
        c.knobs.moderate_input = True
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("flux-dev", n=2))
    assert submits(c) == 4 and len(c.charges) == 4  # BFL charges at submit, moderated or not


@sync
async def test_flux_2_is_priced_per_megapixel_and_a_gone_endpoint_is_model_gone() -> None:
    async with live("bfl") as (provider, c):
        result = await provider.generate(job("flux-2-pro", size="1440x1440"))
        body = next(s.body for s in seen(c.app) if s.method == "POST")
        assert (body["width"], body["height"]) == (1440, 1440)
        # 1.98 MP: the first megapixel at 3 credits, the second started one at 1.5 (BFL's own `cost`).
        assert result.upstream_cost_micros == 45_000 and c.charges.micros() == 45_000
        c.knobs.retired_models = {"flux-2-pro"}
        with pytest.raises(ModelGone) as gone:
            await provider.generate(job("flux-2-pro"))
    assert gone.value.retry_safe is True and len(c.charges) == 1


@pytest.mark.parametrize("knob", ["task_error_next", "fail_after_charge_next", "malformed_body_next"])
@sync
async def test_bfl_failed_task_is_502_with_exactly_one_charge(knob: str) -> None:
    async with live("bfl", **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError):
            await provider.generate(job("flux-pro"))
    assert submits(c) == 1 and len(c.charges) == 1


@sync
async def test_bfl_spoofed_polling_url_never_receives_our_key() -> None:
    async with live("bfl", polling_url_origin="http://169.254.169.254") as (provider, c):
        with pytest.raises(UpstreamError, match="polling URL"):
            await provider.generate(job("flux-pro"))
    assert polls(c) == 0


@sync
async def test_bfl_result_redirecting_to_metadata_is_refused() -> None:
    async with live("bfl", redirect_image_to="http://169.254.169.254/latest/meta-data/") as (provider, c):
        with pytest.raises(UpstreamError, match="will not fetch"):
            await provider.generate(job("flux-pro"))


@sync
async def test_bfl_endless_result_body_stops_at_the_size_cap() -> None:
    async with live("bfl", {"PERF_DOWNLOAD_MAX_BYTES": str(1 << 20)}, endless_image_body=True) as (provider, c):
        started = time.monotonic()
        with pytest.raises(UpstreamError, match="will not fetch"):
            await provider.generate(job("flux-pro"))
    assert time.monotonic() - started < 3


@sync
async def test_bfl_cancellation_stops_polling_and_leaks_no_task() -> None:
    async with live("bfl", polls_before_ready=100_000) as (provider, c):
        task = asyncio.create_task(provider.generate(job("flux-pro", n=3)))
        await asyncio.sleep(0.3)
        assert polls(c) > 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle()
        after_cancel = polls(c)
        await asyncio.sleep(0.2)
        assert polls(c) == after_cancel and our_tasks() == []


@sync
async def test_bfl_deadline_during_polling_is_504() -> None:
    from server.errors import Timeout
    async with live("bfl", polls_before_ready=100_000) as (provider, c):
        with pytest.raises(Timeout):
            await provider.generate(job("flux-pro", time_remaining=0.5))
