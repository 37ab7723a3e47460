"""The multi-model hosts' adapters (fal.ai, Replicate, Together) and BFL's regions against their fakes:
what each sends and delivers, and for every failure class whether a fallback may be asked (retry_safe)
with the upstream's charges counted."""
from __future__ import annotations

from dataclasses import replace

import pytest

from server.errors import ContentPolicyViolation, ModelGone, ProviderUnavailable, UpstreamError
from tests.fakes.base import seen
from tests.fakes.testing import fake, sync

from .support import FACTORIES, job, live

FLUX_DEV_FAL = {"model": "flux-dev", "deployment_id": "flux-dev/fal"}
FLUX_PRO_REPLICATE = {"model": "flux-pro", "deployment_id": "flux-pro/replicate"}
FLUX_PRO_TOGETHER = {"model": "flux-pro", "deployment_id": "flux-pro/together"}
HOSTS = [("fal", FLUX_DEV_FAL), ("replicate", FLUX_PRO_REPLICATE), ("together", FLUX_PRO_TOGETHER)]


def host_job(spec: dict, **fields):  # type: ignore[no-untyped-def]
    return job(spec["model"], deployment_id=spec["deployment_id"], **fields)


def posts(c) -> list:  # type: ignore[no-untyped-def]
    return [s for s in seen(c.app) if s.method == "POST"]


# ---------------------------------------------------------------- what each sends and delivers


@sync
async def test_fal_queues_one_request_for_all_images_polls_and_downloads() -> None:
    async with live("fal", polls_before_ready=3) as (provider, c):
        result = await provider.generate(host_job(FLUX_DEV_FAL, size="1000x700", n=3))
    [submit] = posts(c)
    assert submit.path == "/fal-ai/flux/dev" and submit.headers["Authorization"] == "Key test-key"
    assert submit.body == {"prompt": "a red fox in snow", "image_size": {"width": 992, "height": 704},
                           "num_images": 3, "output_format": "png", "enable_safety_checker": True}
    statuses = [s for s in seen(c.app) if s.path.endswith("/status")]
    assert len(statuses) == 4 and all(s.path.startswith("/fal-ai/flux/requests/") for s in statuses)  # no subpath
    assert [(i.width, i.height, i.mime) for i in result.images] == [(992, 704, "image/png")] * 3
    assert result.model_used == "fal-ai/flux/dev" and result.charged_images == 3
    assert [(ch.n, ch.micros) for ch in c.charges] == [(3, 3 * 25_000)]  # 0.67 MP: one started megapixel each


@sync
async def test_replicate_waits_on_the_create_and_falls_back_to_polling_urls_get() -> None:
    async with live("replicate", polls_before_ready=0) as (provider, c):
        result = await provider.generate(host_job(FLUX_PRO_REPLICATE, size="1000x700", n=2))
        assert len(posts(c)) == 2 and not [s for s in seen(c.app) if s.method == "GET" and "/predictions/" in s.path]
        create = posts(c)[0]
        assert create.path == "/v1/models/black-forest-labs/flux-1.1-pro/predictions"
        assert create.headers["Prefer"].startswith("wait=") and create.headers["Authorization"] == "Bearer test-key"
        assert create.body == {"input": {"prompt": "a red fox in snow", "width": 992, "height": 704,
                                         "aspect_ratio": "custom", "safety_tolerance": 2, "output_format": "png"}}
        assert [(i.width, i.height) for i in result.images] == [(992, 704)] * 2
        c.knobs.polls_before_ready = 2  # the wait runs out: poll urls.get until it is done
        await provider.generate(host_job(FLUX_PRO_REPLICATE))
        assert sum(1 for s in seen(c.app) if s.method == "GET" and s.path.startswith("/v1/predictions/")) == 3
    assert result.model_used == "black-forest-labs/flux-1.1-pro" and c.charges.images() == 3


@pytest.mark.parametrize("response_format", ["base64", "url"])
@sync
async def test_together_makes_all_images_in_one_call_as_base64_or_url(response_format: str) -> None:
    async with live("together") as (provider, c):
        base = host_job(FLUX_PRO_TOGETHER, size="1440x1440", n=2)
        if response_format == "url":
            base.extras["response_format"] = "url"  # an operator's choice in params
        result = await provider.generate(base)
    [call] = posts(c)
    assert call.body["model"] == "black-forest-labs/FLUX.1.1-pro" and (call.body["width"], call.body["height"]) == \
        (1440, 1440) and call.body["n"] == 2 and call.body["response_format"] == response_format
    assert [(i.width, i.height) for i in result.images] == [(1440, 1440)] * 2
    assert [(ch.n, ch.micros) for ch in c.charges] == [(2, 2 * 2 * 40_000)]  # 1.98 MP: two started megapixels


@pytest.mark.parametrize(("kind", "spec"), HOSTS)
@sync
async def test_partial_moderation_delivers_the_rest(kind: str, spec: dict) -> None:
    async with live(kind, moderate_output_indexes={1}) as (provider, c):
        if kind == "together":  # Together fails the whole call on a flagged output (the fake's reading)
            with pytest.raises(ContentPolicyViolation):
                await provider.generate(host_job(spec, n=2))
            assert len(c.charges) == 0
            return
        result = await provider.generate(host_job(spec, n=2))
    assert (len(result.images), result.filtered) == (1, 1)


# ---------------------------------------------------------------- failures: may a fallback be asked?


@pytest.mark.parametrize(("kind", "spec"), HOSTS)
@sync
async def test_a_503_before_acceptance_is_safe_to_ask_elsewhere_and_charged_nothing(kind: str, spec: dict) -> None:
    async with live(kind, fail_before_charge_next=1) as (provider, c):
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.generate(host_job(spec))
    assert caught.value.retry_safe is True and len(c.charges) == 0 and len(posts(c)) == 1


@pytest.mark.parametrize(("kind", "spec"), HOSTS)
@pytest.mark.parametrize("knob", ["fail_after_charge_next", "malformed_body_next", "task_error_next"])
@sync
async def test_a_failure_once_the_work_was_taken_is_never_safe_to_ask_again(kind: str, spec: dict, knob: str) -> None:
    if kind == "together" and knob == "task_error_next":
        pytest.skip("Together answers synchronously: there is no task to fail later")
    async with live(kind, **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError) as caught:
            await provider.generate(host_job(spec))
    assert caught.value.retry_safe is False and len(c.charges) == 1 and len(posts(c)) == 1


@pytest.mark.parametrize(("kind", "spec"), HOSTS)
@sync
async def test_a_200_without_an_image_is_no_image_and_charged(kind: str, spec: dict) -> None:
    async with live(kind, empty_output_next=1) as (provider, c):
        if kind == "replicate":  # a prediction that succeeded without output fails in the adapter
            with pytest.raises(UpstreamError) as caught:
                await provider.generate(host_job(spec))
            assert caught.value.retry_safe is False
        else:  # handed on empty: the pipeline counts it as the upstream failing (tests/server/test_failover.py)
            assert (await provider.generate(host_job(spec))).images == ()
    assert len(c.charges) == 1


@pytest.mark.parametrize(("kind", "spec", "env"), [(*h, e) for h, e in zip(HOSTS, ("FAL_KEY", "REPLICATE_API_TOKEN",
                                                                                   "TOGETHER_API_KEY"), strict=True)])
@sync
async def test_rate_limits_are_waited_out_and_a_rejected_key_names_the_setting(kind: str, spec: dict, env: str) -> None:
    async with live(kind, rate_limit_next=1, retry_after_s=0.1) as (provider, c):
        assert len((await provider.generate(host_job(spec))).images) == 1
        assert len(posts(c)) == 2 and len(c.charges) == 1
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 600
        with pytest.raises(ProviderUnavailable) as limited:
            await provider.generate(host_job(spec))
        assert limited.value.retry_safe is True and limited.value.retry_after == 600
        c.knobs.expected_api_key = "rotated"
        with pytest.raises(ProviderUnavailable, match=env) as refused:
            await provider.generate(host_job(spec))
    assert refused.value.retry_safe is None and len(c.charges) == 1


@pytest.mark.parametrize(("kind", "spec"), HOSTS)
@sync
async def test_a_gone_model_is_model_gone(kind: str, spec: dict) -> None:
    upstream_model = job(spec["model"], deployment_id=spec["deployment_id"]).upstream_model
    async with live(kind, retired_models={upstream_model}) as (provider, c):
        with pytest.raises(ModelGone) as gone:
            await provider.generate(host_job(spec))
    assert gone.value.retry_safe is True and len(c.charges) == 0


@pytest.mark.parametrize(("kind", "spec"), HOSTS[:2])
@sync
async def test_a_polling_url_off_the_hosts_allowlist_is_never_called_with_our_key(kind: str, spec: dict) -> None:
    async with fake(FACTORIES[kind]) as decoy, live(kind, polling_url_origin=decoy.url, polls_before_ready=2) \
            as (provider, c):
        with pytest.raises(UpstreamError, match="will not call") as caught:
            await provider.generate(host_job(spec))
    assert caught.value.retry_safe is False and len(c.charges) == 1 and seen(decoy.app) == []


@sync
async def test_moderated_input_is_content_policy_violation_everywhere() -> None:
    for kind, spec in HOSTS:
        async with live(kind, moderate_input=True) as (provider, _):
            with pytest.raises(ContentPolicyViolation):
                await provider.generate(host_job(spec, n=2))


# ---------------------------------------------------------------- BFL: regions, and a 503 before acceptance


@sync
async def test_a_deployment_with_a_region_goes_to_bfls_regional_endpoint() -> None:
    async with fake(FACTORIES["bfl"]) as eu, live("bfl", {"BFL_EU_BASE_URL": eu.url,
                                                          "PERF_INSECURE_HTTP_HOSTS": eu.url.split("://")[1]}) \
            as (provider, c):
        global_job = job("flux-pro")
        assert global_job.region is None
        await provider.generate(global_job)
        result = await provider.generate(replace(global_job, region="eu"))
    assert len(result.images) == 1 and len(c.charges) == 1 and len(eu.charges) == 1
    # Submitted to the EU endpoint, and polled where its polling_url pointed (the same fake).
    calls = [(s.method, s.path) for s in seen(eu.app)]
    assert calls[0] == ("POST", "/v1/flux-pro-1.1") and set(calls[1:]) == {("GET", "/v1/get_result")}


@sync
async def test_bfl_a_503_to_the_submit_is_safe_elsewhere_unless_another_task_got_through() -> None:
    async with live("bfl", fail_before_charge_next=1) as (provider, c):
        with pytest.raises(ProviderUnavailable) as refused:
            await provider.generate(job("flux-pro"))
        assert refused.value.retry_safe is True and len(c.charges) == 0
        c.knobs.fail_before_charge_next = 1  # one of two tasks refused, the other accepted: not safe as a whole
        result = await provider.generate(job("flux-pro", n=2))
        assert len(result.images) == 1 and len(c.charges) == 1
        c.knobs.fail_before_charge_next, c.knobs.moderate_output_indexes = 1, {c.charges.images()}
        with pytest.raises(ProviderUnavailable) as mixed:
            await provider.generate(job("flux-pro", n=2))  # one refused, one moderated (and charged)
        assert mixed.value.retry_safe is False
