"""The OpenAI adapter against the fake OpenAI over sockets: translation, both wires, and every failure
class with the upstream's charge log counted."""
from __future__ import annotations

import asyncio
import io
import time

import pytest
from aiohttp import web
from PIL import Image

from server.errors import ContentPolicyViolation, ModelGone, ProviderUnavailable, Timeout, UpstreamError
from server.providers.registry import start_live_providers
from tests.fakes import openai
from tests.fakes.base import seen
from tests.fakes.knobs import ChargeLog, Knobs
from tests.fakes.testing import sync
from tests.stack import free_port

from .support import job, live, our_tasks, repointed, settings_for, settle


@sync
async def test_dalle3_is_served_by_gpt_image_2_with_translated_quality() -> None:
    async with live("openai") as (provider, c):
        result = await provider.generate(job("dall-e-3", size="1792x1024", quality="hd", style="natural"))
    [sent] = seen(c.app)
    # style has no GPT-image equivalent: not sent; the output the caller wants is asked for as such
    assert sent.body == {"model": "gpt-image-2", "prompt": "a red fox in snow", "n": 1, "size": "1792x1024",
                         "quality": "high", "output_format": "png", "background": "auto"}
    assert sent.headers["Authorization"] == "Bearer test-key"
    [image] = result.images
    assert (image.width, image.height, image.mime) == (1792, 1024, "image/png")
    assert result.model_used == "gpt-image-2" and result.upstream_request_id.startswith("req_")
    assert result.revised_prompt == "a red fox in snow"
    assert [(ch.model, ch.n) for ch in c.charges] == [("gpt-image-2", 1)]


@sync
async def test_dalle2_small_sizes_are_made_at_1024_and_resized_locally() -> None:
    async with live("openai") as (provider, c):
        result = await provider.generate(job("dall-e-2", size="256x256", n=3))
    assert seen(c.app)[0].body["size"] == "1024x1024" and seen(c.app)[0].body["quality"] == "low"
    assert [(i.width, i.height) for i in result.images] == [(256, 256)] * 3
    assert result.model_used == "gpt-image-2" and c.charges.images() == 3
    assert result.usage is not None and result.usage.image_output == 3 * 272  # low quality, 1024x1024


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
@sync
async def test_dalle_wire_when_an_operator_repoints_to_dall_e_3(response_format: str) -> None:
    async with live("openai") as (provider, c):
        base = job("dall-e-3", quality="hd", style="natural")
        result = await provider.generate(repointed(base, upstream_model="dall-e-3", quality="hd", style="natural",
                                                   extras={"response_format": response_format}))
    sent = seen(c.app)[0].body
    assert (sent["model"], sent["quality"], sent["style"], sent["response_format"]) == \
        ("dall-e-3", "hd", "natural", response_format)
    assert result.revised_prompt.startswith("A detailed") and result.images[0].mime == "image/png"
    assert [s.path for s in seen(c.app)] == ["/v1/images/generations"]  # the download is not recorded


@sync
async def test_429_within_the_deadline_is_retried_once_and_charged_once() -> None:
    async with live("openai", rate_limit_next=1, retry_after_s=0.2) as (provider, c):
        started = time.monotonic()
        result = await provider.generate(job("dall-e-3"))
    assert len(result.images) == 1 and len(seen(c.app)) == 2 and len(c.charges) == 1
    assert time.monotonic() - started >= 0.2  # the upstream's delay was honoured


@sync
async def test_429_beyond_the_deadline_is_503_with_retry_after_and_not_retried() -> None:
    async with live("openai", rate_limit_next=1, retry_after_s=30) as (provider, c):
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.generate(job("dall-e-3", time_remaining=3))
    assert caught.value.retry_after == 30 and len(seen(c.app)) == 1 and len(c.charges) == 0


@pytest.mark.parametrize(("knob", "charges"), [("fail_after_charge_next", 1), ("fail_before_charge_next", 0),
                                               ("malformed_body_next", 1)])
@sync
async def test_failures_after_submit_are_502_and_never_resubmitted(knob: str, charges: int) -> None:
    async with live("openai", **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError):
            await provider.generate(job("dall-e-3"))
    assert len(seen(c.app)) == 1 and len(c.charges) == charges


@pytest.mark.parametrize("knobs", [{"moderate_input": True}, {"moderate_output_indexes": {0}}])
@pytest.mark.parametrize("model", ["dall-e-3", "dall-e-2"])
@sync
async def test_moderation_is_content_policy_violation(knobs: dict, model: str) -> None:
    async with live("openai", **knobs) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job(model))
        # The DALL·E wire's own moderation code maps the same way.
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(repointed(job(model), upstream_model="dall-e-2", quality="", style=None,
                                              upstream_size=(1024, 1024)))
    assert len(c.charges) == 0


@sync
async def test_our_rejected_key_is_provider_unavailable_not_an_authentication_error() -> None:
    async with live("openai", expected_api_key="another-key") as (provider, c):
        with pytest.raises(ProviderUnavailable, match="OPENAI_API_KEY"):
            await provider.generate(job("dall-e-3"))


@sync
async def test_deadline_is_504_promptly() -> None:
    async with live("openai", latency_s=5) as (provider, c):
        started = time.monotonic()
        with pytest.raises(Timeout):
            await provider.generate(job("dall-e-3", time_remaining=0.6))
    assert time.monotonic() - started < 1.5


@sync
async def test_connect_failure_is_retried_until_the_upstream_is_back() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    charges = ChargeLog()
    providers = await start_live_providers(settings_for("openai", url))
    runner = web.AppRunner(openai.make_app(Knobs(), charges), shutdown_timeout=0.5)

    async def come_back_later() -> None:
        await asyncio.sleep(0.15)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    starter = asyncio.create_task(come_back_later())
    try:
        result = await providers.providers["openai"].generate(job("dall-e-3"))
    finally:
        await starter
        await providers.close()
        await runner.cleanup()
    assert len(result.images) == 1 and len(charges) == 1


@sync
async def test_unreachable_upstream_is_502_after_bounded_retries() -> None:
    providers = await start_live_providers(settings_for("openai", f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(UpstreamError, match="could not be reached"):
            await providers.providers["openai"].generate(job("dall-e-3"))
    finally:
        await providers.close()


@sync
async def test_cancellation_stops_the_call_and_leaks_no_task() -> None:
    async with live("openai", latency_s=5) as (provider, c):
        task = asyncio.create_task(provider.generate(job("dall-e-2", n=2)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle()
        assert our_tasks() == [] and len(c.charges) == 0


@sync
async def test_a_shut_down_model_is_model_gone_and_the_listing_carries_shutdown_dates() -> None:
    async with live("openai", retired_models={"gpt-image-2"}) as (provider, c):
        with pytest.raises(ModelGone) as gone:
            await provider.generate(job("gpt-image-2"))
        listed = {m.id: m.shutdown_date for m in await provider.list_models()}  # type: ignore[attr-defined]
    assert gone.value.retry_safe is True and len(c.charges) == 0
    assert "gpt-image-2" not in listed and listed["gpt-image-1-mini"] == "2026-12-01"


@sync
async def test_gpt_image_output_parameters_are_passed_through_and_the_background_reported() -> None:
    async with live("openai") as (provider, c):
        result = await provider.generate(job("gpt-image-2", size="1024x1024", quality="low", output_format="webp",
                                             output_compression=50, background="transparent", moderation="low"))
    sent = seen(c.app)[0].body
    assert {k: sent[k] for k in ("output_format", "output_compression", "background", "moderation")} == \
        {"output_format": "webp", "output_compression": 50, "background": "transparent", "moderation": "low"}
    [image] = result.images
    assert image.mime == "image/webp" and result.background == "transparent"
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.mode == "RGBA" and decoded.getchannel("A").getextrema() == (0, 255)


@sync
async def test_size_auto_is_asked_for_as_auto_and_not_conformed() -> None:
    made = job("gpt-image-2", size="auto")
    assert made.size_auto and (made.width, made.height) == (1536, 1024)
    async with live("openai") as (provider, c):
        result = await provider.generate(made)
    assert seen(c.app)[0].body["size"] == "auto"
    assert [(i.width, i.height) for i in result.images] == [(1024, 1024)]  # what the upstream chose
    assert result.background == "opaque"
