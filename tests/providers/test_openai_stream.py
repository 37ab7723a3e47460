"""OpenAI streams (`stream: true`) against the fake's SSE over sockets: partial images handed on as they
arrive, the result from the completed event, every way a stream can fail with the upstream's charges
counted, the deadline over the whole stream, the byte caps; and the SSE reader on its own."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from server.errors import ContentPolicyViolation, Timeout, UpstreamError
from server.providers.adapters.openai_stream import ServerSentEvent, server_sent_events
from server.providers.base import PartialImage, Provider
from server.providers.registry import start_live_providers
from tests.fakes import openai
from tests.fakes.base import seen
from tests.fakes.images import make_image
from tests.fakes.openai_stream import PARTIAL_IMAGE_TOKENS
from tests.fakes.server import running
from tests.fakes.testing import sync

from .support import edit_job, job, live, our_tasks, settings_for, settle


class Partials(list[PartialImage]):
    """An on_partial callback that keeps what it was given, and when."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    async def __call__(self, partial: PartialImage) -> None:
        self.append(partial)
        self.at.append(time.monotonic())


@sync
async def test_partial_images_arrive_in_order_then_the_completed_event_is_the_result() -> None:
    partials = Partials()
    async with live("openai") as (provider, c):
        result = await provider.generate(job("gpt-image-2", size="1536x1024", quality="low", partial_images=2,
                                             on_partial=partials))
    sent = seen(c.app)[0].body
    assert (sent["stream"], sent["partial_images"]) == (True, 2)
    assert [p.index for p in partials] == [0, 1]
    assert all((p.image.width, p.image.height, p.image.mime) == (1536, 1024, "image/png") for p in partials)
    [image] = result.images
    assert (image.width, image.height) == (1536, 1024) and image.data not in [p.image.data for p in partials]
    # The completed event's usage: the whole request's, each partial image's 100 output tokens included.
    plain = openai.usage_for({"quality": "low", "w": 1536, "h": 1024, "n": 1, "prompt": "a red fox in snow"})
    assert result.usage is not None
    assert result.usage.image_output == plain["output_tokens"] + 2 * PARTIAL_IMAGE_TOKENS
    assert result.usage.text_input == plain["input_tokens_details"]["text_tokens"]
    assert result.background == "opaque" and result.upstream_request_id.startswith("req_")
    assert [(ch.model, ch.n) for ch in c.charges] == [("gpt-image-2", 1)]


@sync
async def test_partial_images_are_conformed_to_the_delivered_size_like_the_final_one() -> None:
    partials = Partials()
    async with live("openai") as (provider, c):
        result = await provider.generate(job("dall-e-2", size="256x256", partial_images=1, on_partial=partials))
    assert seen(c.app)[0].body["size"] == "1024x1024"
    assert [(p.image.width, p.image.height) for p in partials] == [(256, 256)]
    assert [(i.width, i.height) for i in result.images] == [(256, 256)]


@sync
async def test_an_edit_streams_with_form_fields_and_transparent_webp() -> None:
    partials = Partials()
    image = make_image(1024, 1024, "png")
    async with live("openai") as (provider, c):
        result = await provider.generate(edit_job("gpt-image-2", [image], size="1024x1024", partial_images=1,
                                                  output_format="webp", background="transparent",
                                                  on_partial=partials))
    sent = seen(c.app)[0]
    assert sent.path == "/v1/images/edits"
    assert (sent.body["stream"], sent.body["partial_images"], sent.body["output_format"]) == ("true", "1", "webp")
    assert [p.image.mime for p in partials] == ["image/webp"]
    assert result.images[0].mime == "image/webp" and result.background == "transparent"
    assert result.usage is not None and result.usage.image_input > 0


@sync
async def test_zero_partial_images_is_a_stream_of_the_completed_event_only() -> None:
    partials = Partials()
    async with live("openai") as (provider, c):
        result = await provider.generate(job("gpt-image-2", size="1024x1024", on_partial=partials))
    assert seen(c.app)[0].body["partial_images"] == 0 and partials == [] and len(result.images) == 1


@sync
async def test_an_error_event_after_a_partial_is_502_charged_upstream_and_not_retry_safe() -> None:
    partials = Partials()
    async with live("openai", stream_fail_next=1) as (provider, c):
        with pytest.raises(UpstreamError, match="image_generation_failed") as failed:
            await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=1, on_partial=partials))
    assert failed.value.retry_safe is False
    assert len(partials) == 1 and len(seen(c.app)) == 1 and len(c.charges) == 1


@sync
async def test_moderation_inside_the_stream_is_content_policy_violation_and_not_charged() -> None:
    partials = Partials()
    async with live("openai", moderate_output_indexes={0}) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=2, on_partial=partials))
    assert partials == [] and len(c.charges) == 0


@sync
async def test_moderation_after_the_partials_is_content_policy_violation_too() -> None:
    partials = Partials()
    async with live("openai", stream_moderate_after_partials=True) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=2, on_partial=partials))
    assert len(partials) == 2 and len(seen(c.app)) == 1 and len(c.charges) == 0


@pytest.mark.parametrize(("knob", "message"), [("stream_drop_next", "connection failed mid-stream"),
                                               ("malformed_body_next", "malformed stream event|mid-stream")])
@sync
async def test_a_stream_cut_before_its_completed_event_is_502_and_never_resubmitted(knob: str, message: str) -> None:
    partials = Partials()
    async with live("openai", **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError, match=message) as failed:
            await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=1, on_partial=partials))
    assert failed.value.retry_safe is False
    assert len(partials) == 1 and len(seen(c.app)) == 1 and len(c.charges) == 1


@sync
async def test_a_stream_that_ends_cleanly_without_its_completed_event_is_502() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b": keepalive\n\nevent: image_generation.partial_image\ndata: {\"type\": \"x.unknown\"}\n\n")
        await resp.write_eof()
        return resp

    async with _custom(handler) as provider:
        with pytest.raises(UpstreamError, match="ended before its completed event") as failed:
            await provider.generate(job("gpt-image-2", on_partial=Partials()))
    assert failed.value.retry_safe is False


@sync
async def test_a_stream_refused_before_it_starts_is_the_json_error_of_its_status() -> None:
    async with live("openai", fail_before_charge_next=1) as (provider, c):
        with pytest.raises(UpstreamError, match="status 503"):
            await provider.generate(job("gpt-image-2", partial_images=1, on_partial=Partials()))
    assert len(seen(c.app)) == 1 and len(c.charges) == 0  # a 5xx is never resubmitted


@sync
async def test_a_rate_limited_stream_is_retried_before_any_byte_and_charged_once() -> None:
    partials = Partials()
    async with live("openai", rate_limit_next=1, retry_after_s=0.1) as (provider, c):
        result = await provider.generate(job("gpt-image-2", partial_images=1, on_partial=partials))
    assert len(seen(c.app)) == 2 and len(partials) == 1 and len(result.images) == 1 and len(c.charges) == 1


@sync
async def test_the_deadline_covers_the_whole_stream_not_each_event() -> None:
    partials = Partials()
    async with live("openai", stream_event_interval_s=0.4) as (provider, c):
        started = time.monotonic()
        with pytest.raises(Timeout):
            # Every event comes within 0.4 s; the four of them take 1.6 s, past the 0.9 s deadline.
            await provider.generate(job("gpt-image-2", partial_images=3, time_remaining=1.0, on_partial=partials))
        elapsed = time.monotonic() - started
    assert 0.85 < elapsed < 1.3 and 1 <= len(partials) <= 2


@sync
async def test_an_event_over_the_cap_is_refused_while_it_streams() -> None:
    huge = make_image(1024, 1024, "png", detail=1.0)  # ~3 MB of noise, ~4 MB as base64
    settings = {"PERF_DOWNLOAD_MAX_BYTES": str(len(huge) // 4)}
    partials = Partials()
    async with live("openai", settings, image_override=huge) as (provider, c):
        with pytest.raises(UpstreamError, match="over the cap"):
            await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=1, on_partial=partials))
    assert len(partials) == 1 and len(c.charges) == 1  # the small partial got through; the final did not


@sync
async def test_a_stream_that_never_ends_is_cut_at_the_total_cap() -> None:
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            while sent < 64 * 1024 * 1024:  # keepalive comments: each line tiny, the stream without end
                await resp.write(b": keepalive\n" * 4096)
                sent += 13 * 4096
        return resp

    async with _custom(endless, PERF_DOWNLOAD_MAX_BYTES="1000") as provider:
        with pytest.raises(UpstreamError, match="stream over the cap"):
            await provider.generate(job("gpt-image-2", on_partial=Partials()))
    assert sent < 8 * 1024 * 1024  # stopped near the 1 MB cap, not at the end of the sender's patience


@sync
async def test_a_cancelled_stream_stops_reading_and_leaks_no_task() -> None:
    partials = Partials()
    async with live("openai", stream_event_interval_s=0.3) as (provider, c):
        task = asyncio.create_task(provider.generate(job("gpt-image-2", partial_images=3, on_partial=partials)))
        while not partials:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle()
        assert our_tasks() == [] and len(partials) == 1


@sync
async def test_a_200_answered_whole_instead_of_streamed_is_read_as_the_ordinary_answer() -> None:
    image = base64.b64encode(make_image(1024, 1024, "png")).decode()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"created": 1, "data": [{"b64_json": image}], "background": "opaque",
                                  "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12,
                                            "input_tokens_details": {"text_tokens": 5, "image_tokens": 0}}})

    partials = Partials()
    async with _custom(handler) as provider:
        result = await provider.generate(job("gpt-image-2", size="1024x1024", partial_images=2, on_partial=partials))
    assert partials == [] and len(result.images) == 1
    assert result.usage is not None and result.usage.image_output == 7


@asynccontextmanager
async def _custom(handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                  **env: str) -> AsyncIterator[Provider]:
    """The OpenAI adapter against a one-route app answering every generation with `handler`."""
    app = web.Application()
    app.router.add_post("/v1/images/generations", handler)
    async with running(app) as url:
        providers = await start_live_providers(settings_for("openai", url, **env))
        try:
            yield providers.providers["openai"]
        finally:
            await providers.close()


# ---------------------------------------------------------------- the SSE reader on its own


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _events(*parts: bytes, cap: int = 1024) -> list[ServerSentEvent]:
    return [event async for event in server_sent_events(_chunks(*parts), cap)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
@sync
async def test_sse_framing_with_any_line_ending_split_at_every_byte(newline: bytes) -> None:
    raw = newline.join([b": comment", b"event: a", b"data: {\"x\":", b"data: 1}", b"id: 7", b"", b"data:plain",
                        b"", b"event: last", b"data: end"])
    expected = [ServerSentEvent("a", "{\"x\":\n1}"), ServerSentEvent("", "plain"), ServerSentEvent("last", "end")]
    assert await _events(raw) == expected
    assert await _events(*[raw[i:i + 1] for i in range(len(raw))]) == expected  # CR and LF split apart too


@sync
async def test_sse_events_are_held_to_their_cap_even_without_a_line_end() -> None:
    with pytest.raises(UpstreamError, match="over the cap"):
        await _events(b"data: " + b"x" * 600, b"y" * 600, cap=1000)
    with pytest.raises(UpstreamError, match="over the cap"):  # many short lines of one event
        await _events(*[b"data: " + b"z" * 100 + b"\n" for _ in range(20)], cap=1000)
    assert len(await _events(*[b"data: " + b"z" * 100 + b"\n\n" for _ in range(20)], cap=1000)) == 20
