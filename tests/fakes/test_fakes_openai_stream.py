"""Drive the fake OpenAI SSE streams (generations and edits) with the official SDK and a raw SSE reader."""
from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import aiohttp
import openai as sdk
import orjson
import pytest
from PIL import Image

from . import openai
from .images import image_size, sharpness
from .knobs import ChargeLog, Knobs
from .server import FakeServer
from .testing import Ctx, fake, sync

AUTH = {"Authorization": "Bearer test-key"}
GEN = "/v1/images/generations"


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def frames(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of every SSE frame, checking the framing the SDKs rely on."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        event, data = block.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        out.append((event[7:], orjson.loads(data[6:])))
    return out


async def stream(c: Ctx, body: dict[str, Any]) -> tuple[aiohttp.ClientResponse, bytes]:
    async with c.post(GEN, json=body, headers=AUTH) as r:
        return r, await r.read()


STREAM = {"model": "gpt-image-2", "prompt": "a fox", "stream": True, "size": "1024x1024", "quality": "low"}


# ---------------------------------------------------------------- the official SDK


def test_sdk_generate_stream_collects_partials_then_completed() -> None:
    knobs, charges = Knobs(), ChargeLog()
    with FakeServer(openai.make_app(knobs, charges)) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        events = list(client.images.generate(model="gpt-image-2", prompt="a fox", stream=True, partial_images=2,
                                              size="1536x1024", quality="low"))
        plain = client.images.generate(model="gpt-image-2", prompt="a fox", size="1536x1024", quality="low")
    assert [type(e).__name__ for e in events] == ["ImageGenPartialImageEvent", "ImageGenPartialImageEvent",
                                                  "ImageGenCompletedEvent"]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None]
    images = [base64.b64decode(e.b64_json) for e in events]
    assert all(image_size(i) == (1536, 1024) for i in images)
    assert sharpness(images[0]) < sharpness(images[1]) < sharpness(images[2])  # progressively sharper
    completed = events[-1]
    assert isinstance(completed, sdk.types.ImageGenCompletedEvent)
    assert (completed.size, completed.quality, completed.background, completed.output_format) == \
        ("1536x1024", "low", "opaque", "png")
    assert plain.usage is not None
    assert completed.usage.output_tokens == plain.usage.output_tokens + 2 * 100  # each partial: 100 tokens
    assert completed.usage.total_tokens == completed.usage.input_tokens + completed.usage.output_tokens
    assert [c.n for c in charges] == [1, 1] and charges[0].micros > charges[1].micros


def test_sdk_edit_stream_and_async_client() -> None:
    knobs, charges = Knobs(), ChargeLog()
    with FakeServer(openai.make_app(knobs, charges)) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        events = list(client.images.edit(model="gpt-image-1.5", image=png(64, 64), prompt="x", stream=True,
                                         partial_images=1, output_format="webp", background="transparent"))
        assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
        done = events[-1]
        assert isinstance(done, sdk.types.ImageEditCompletedEvent)
        final = Image.open(io.BytesIO(base64.b64decode(done.b64_json)))
        assert final.format == "WEBP" and final.getchannel("A").getextrema() == (0, 255)
        assert done.usage.input_tokens_details.image_tokens == 194

        async def collect() -> list[str]:
            aclient = sdk.AsyncOpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
            got: list[str] = [e.type async for e in await aclient.images.generate(model="gpt-image-2", prompt="x",
                                                                         stream=True, partial_images=0)]
            await aclient.close()
            return got
        assert asyncio.run(collect()) == ["image_generation.completed"]
    assert len(charges) == 2


def test_sdk_raises_on_the_mid_stream_error_and_on_a_cut_stream() -> None:
    knobs, charges = Knobs(stream_fail_next=1), ChargeLog()
    with FakeServer(openai.make_app(knobs, charges)) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        got: list[Any] = []
        with pytest.raises(sdk.APIError) as err:
            for event in client.images.generate(model="gpt-image-2", prompt="x", stream=True, partial_images=1):
                got.append(event)
        assert err.value.code == "image_generation_failed" and err.value.type == "server_error"
        assert [e.type for e in got] == ["image_generation.partial_image"] and len(charges) == 1
        knobs.stream_drop_next = 1
        with pytest.raises(sdk.APIConnectionError):
            list(client.images.generate(model="gpt-image-2", prompt="x", stream=True, partial_images=1))
        assert len(charges) == 2  # the upstream did the work: billed though the bytes never arrived
        knobs.rate_limit_next = 1
        with pytest.raises(sdk.RateLimitError):  # errors before the stream are plain HTTP errors
            client.images.generate(model="gpt-image-2", prompt="x", stream=True)


# ---------------------------------------------------------------- raw SSE


@sync
async def test_raw_sse_framing_and_headers() -> None:
    async with fake(openai.make_app) as c:
        r, raw = await stream(c, {**STREAM, "partial_images": 3, "output_format": "jpeg", "output_compression": 50})
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert r.headers["x-request-id"].startswith("req_") and r.headers["Transfer-Encoding"] == "chunked"
        got = frames(raw)
        assert [name for name, _ in got] == ["image_generation.partial_image"] * 3 + ["image_generation.completed"]
        assert all(name == data["type"] for name, data in got)
        partial = got[0][1]
        assert set(partial) == {"type", "b64_json", "created_at", "size", "quality", "background", "output_format",
                                "partial_image_index"}
        assert set(got[-1][1]) == set(partial) - {"partial_image_index"} | {"usage"}
        assert set(got[-1][1]["usage"]) == {"total_tokens", "input_tokens", "output_tokens", "input_tokens_details"}
        assert base64.b64decode(got[-1][1]["b64_json"])[:3] == b"\xff\xd8\xff"
        assert len(c.charges) == 1


@pytest.mark.parametrize("body, param, code", [
    ({**STREAM, "n": 2}, "n", None),
    ({"model": "dall-e-3", "prompt": "x", "stream": True}, "stream", "unknown_parameter"),
    ({**STREAM, "partial_images": 4}, "partial_images", "integer_above_max_value"),
])
@sync
async def test_stream_refusals_are_plain_json(body: dict[str, Any], param: str, code: str | None) -> None:
    async with fake(openai.make_app) as c:
        r, raw = await stream(c, body)
        err = orjson.loads(raw)["error"]
        assert (r.status, r.content_type, err["param"], err["code"]) == (400, "application/json", param, code)
        assert not c.charges


@sync
async def test_stream_knobs() -> None:
    async with fake(openai.make_app) as c:
        c.knobs.moderate_output_indexes = {0}
        r, raw = await stream(c, {**STREAM, "partial_images": 2})
        [(name, data)] = frames(raw)
        assert (r.status, name, data["error"]["code"]) == (200, "error", "moderation_blocked")
        assert not c.charges  # refused output is not billed
        c.knobs.moderate_output_indexes, c.knobs.stream_partials_sent = set(), 1
        _, raw = await stream(c, {**STREAM, "partial_images": 3})
        got = frames(raw)
        assert [d["type"] for _, d in got] == ["image_generation.partial_image", "image_generation.completed"]
        c.knobs.stream_partials_sent, c.knobs.fail_after_charge_next = None, 1
        _, raw = await stream(c, {**STREAM, "partial_images": 1})
        assert [name for name, _ in frames(raw)] == ["image_generation.partial_image", "error"]
        c.knobs.malformed_body_next = 1
        async with c.post(GEN, json={**STREAM, "partial_images": 1}, headers=AUTH) as r:
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()  # a frame cut in half and no terminating chunk
        c.knobs.stream_drop_next = 1
        async with c.post(GEN, json={**STREAM, "partial_images": 2}, headers=AUTH) as r:
            first = await r.content.readuntil(b"\n\n")
            assert b"image_generation.partial_image" in first
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
        assert len(c.charges) == 4
        c.knobs.stream_event_interval_s = 0.1
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, raw = await stream(c, {**STREAM, "partial_images": 2})
        assert loop.time() - started >= 0.3 and len(frames(raw)) == 3


@sync
async def test_client_hanging_up_mid_stream_is_still_billed() -> None:
    async with fake(openai.make_app, stream_event_interval_s=0.2) as c:
        async with c.post(GEN, json={**STREAM, "partial_images": 2}, headers=AUTH) as r:
            await r.content.readuntil(b"\n\n")
        await asyncio.sleep(0.8)  # the fake keeps going, then finds nobody listening
        assert len(c.charges) == 1
