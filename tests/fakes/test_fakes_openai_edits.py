"""Drive the fake OpenAI ``/v1/images/edits`` over real sockets: the official SDK, raw multipart, knobs."""
from __future__ import annotations

import base64
import io
from typing import Any

import aiohttp
import openai as sdk
import pytest
from PIL import Image

from . import openai
from .base import seen
from .images import image_size, make_image
from .knobs import ChargeLog, Knobs
from .openai_edits import input_image_tokens, last_upload
from .server import FakeServer
from .testing import Ctx, fake, sync

AUTH = {"Authorization": "Bearer test-key"}
EDITS = "/v1/images/edits"


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), (200, 40, 40, 255)[: len(mode)]).save(buf, "PNG")
    return buf.getvalue()


def alpha_mask(width: int, height: int, hole_share: float = 0.25) -> bytes:
    """Opaque PNG with a fully transparent left strip covering ``hole_share`` of the pixels."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, int(width * hole_share), height))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def form(files: list[tuple[str, bytes]], **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for key, value in {"prompt": "add a hat", "model": "gpt-image-2", **fields}.items():
        data.add_field(key, value)
    for name, blob in files:
        data.add_field(name, blob, filename="upload", content_type="application/octet-stream")
    return data


async def edit(c: Ctx, files: list[tuple[str, bytes]], **fields: str) -> tuple[int, dict[str, Any]]:
    async with c.post(EDITS, data=form(files, **fields), headers=AUTH) as r:
        return r.status, await r.json()


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


# ---------------------------------------------------------------- the official SDK


def test_sdk_edit_with_one_image_and_a_mask() -> None:
    knobs, charges = Knobs(), ChargeLog()
    app = openai.make_app(knobs, charges)
    image, mask = png(1024, 1024), alpha_mask(1024, 1024)
    with FakeServer(app) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        out = client.images.edit(model="gpt-image-2", image=("a.png", image, "image/png"),
                                 mask=("mask.png", mask, "image/png"), prompt="add a hat", size="1024x1024",
                                 quality="low")
    assert (out.size, out.quality, out.output_format, out.background) == ("1024x1024", "low", "png", "opaque")
    assert out.usage is not None and out.usage.input_tokens_details.image_tokens == 194  # one 512 tile
    assert out.data and out.data[0].b64_json and image_size(base64.b64decode(out.data[0].b64_json)) == (1024, 1024)
    body = seen(app)[-1].body
    assert body["prompt"] == "add a hat" and body["model"] == "gpt-image-2" and body["size"] == "1024x1024"
    assert body["image"][0] | {"filename": "a.png"} == {"bytes": len(image), "type": "png", "size": (1024, 1024),
                                                       "mode": "RGB", "alpha": False, "filename": "a.png",
                                                       "content_type": "image/png"}
    assert body["mask"][0]["edit_share"] == 0.25
    assert last_upload(app).mask == mask and last_upload(app).images == [image]
    usage = out.usage.model_dump()
    assert [(c.model, c.n, c.micros) for c in charges] == [
        ("gpt-image-2", 1, openai.list_price_micros({"model": "gpt-image-2"}, usage))]


def test_sdk_edit_with_three_images_of_three_types() -> None:
    app = openai.make_app(Knobs(), ChargeLog())
    images = [png(512, 512), make_image(1536, 1024, "jpeg"), make_image(300, 900, "webp")]
    with FakeServer(app) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        out = client.images.edit(model="gpt-image-1.5", image=images, prompt="merge them", input_fidelity="high",
                                 n=2)
    sent = seen(app)[-1].body
    assert [(d["type"], d["size"]) for d in sent["image[]"]] == [("png", (512, 512)), ("jpeg", (1536, 1024)),
                                                                  ("webp", (300, 900))]
    assert sent["input_fidelity"] == "high" and sent["n"] == "2"  # form values arrive as the SDK sent them
    expected = sum(input_image_tokens(w, h, "high") for w, h in [(512, 512), (1536, 1024), (300, 900)])
    assert out.usage is not None and out.usage.input_tokens_details.image_tokens == expected
    assert len(out.data or []) == 2 and out.size == "1024x1024"  # auto follows the square first image


def test_input_image_token_rule() -> None:
    assert input_image_tokens(1024, 1024, "low") == 65 + 129  # scaled to 512x512: one tile
    assert input_image_tokens(1024, 1025, "low") == 194  # rounds down, as measured on the live API
    assert input_image_tokens(512, 513, "low") == 65 + 2 * 129
    assert input_image_tokens(4096, 2048, "low") == 65 + 2 * 129  # 2048x1024, then 1024x512
    assert input_image_tokens(1024, 1024, "high") == 3050


# ---------------------------------------------------------------- raw multipart


@sync
async def test_edit_outputs_are_really_encoded() -> None:
    async with fake(openai.make_app) as c:
        status, out = await edit(c, [("image", png(800, 400))], output_format="webp", output_compression="30",
                                 background="transparent")
        assert status == 200 and (out["size"], out["background"], out["output_format"]) == \
            ("1536x1024", "transparent", "webp")
        img = decoded(out["data"][0]["b64_json"])
        assert img.format == "WEBP" and img.mode == "RGBA" and img.getchannel("A").getextrema() == (0, 255)
        sizes = []
        for quality in ("10", "95"):
            _, out = await edit(c, [("image", png(64, 64))], output_format="jpeg", output_compression=quality,
                                size="1024x1536")
            raw = base64.b64decode(out["data"][0]["b64_json"])
            assert raw[:3] == b"\xff\xd8\xff" and image_size(raw) == (1024, 1536)
            sizes.append(len(raw))
        assert sizes[0] < sizes[1]


@sync
async def test_dalle2_edit_single_square_png() -> None:
    async with fake(openai.make_app) as c:
        status, out = await edit(c, [("image", png(256, 256, "RGBA"))], model="dall-e-2", size="256x256")
        assert status == 200 and "url" in out["data"][0] and "usage" not in out
        async with c.http.get(out["data"][0]["url"]) as r:
            assert image_size(await r.read()) == (256, 256)
        status, out = await edit(c, [("image", png(512, 512)), ("mask", alpha_mask(512, 512))], model="dall-e-2",
                                 size="512x512", response_format="b64_json")
        assert status == 200 and image_size(base64.b64decode(out["data"][0]["b64_json"])) == (512, 512)
        assert [ch.micros for ch in c.charges] == [16_000, 18_000]
        status, out = await edit(c, [("image", png(512, 512))], model="dall-e-2")
        assert status == 400 and out["error"]["code"] == "invalid_image_format"  # no mask, no alpha


def _many(n: int) -> list[tuple[str, bytes]]:
    return [("image[]", png(64, 64))] * n


@pytest.mark.parametrize("files, fields, param, code", [
    ([("image", png(64, 64)), ("mask", alpha_mask(32, 64))], {}, "mask", "invalid_value"),
    ([("image", png(64, 64)), ("mask", png(64, 64))], {}, "mask", "invalid_image_file"),  # no alpha
    ([("image", b"GIF89a not a supported image")], {}, "image", "invalid_image_file"),
    ([("image", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)], {}, "image", "invalid_image_file"),  # magic, no image
    ([], {}, "image", "missing_required_parameter"),
    (_many(17), {}, "image", "array_above_max_length"),
    ([("image", png(64, 64)), ("image[]", png(64, 64))], {}, "image", "invalid_value"),
    ([("image", png(64, 64))], {"moderation": "low"}, "moderation", "unknown_parameter"),
    ([("image", png(64, 64))], {"style": "vivid"}, "style", "unknown_parameter"),
    ([("image", png(64, 64))], {"response_format": "url"}, "response_format", "unknown_parameter"),
    ([("image", png(64, 64))], {"input_fidelity": "high"}, "input_fidelity", "unsupported_parameter"),
    ([("image", png(64, 64))], {"model": "gpt-image-1-mini", "input_fidelity": "high"}, "input_fidelity",
     "unsupported_value"),
    ([("image", png(64, 64))], {"model": "gpt-image-1", "input_fidelity": "max"}, "input_fidelity",
     "invalid_value"),
    ([("image", png(64, 64))], {"n": "two"}, "n", "invalid_type"),
    ([("image", png(64, 64))], {"stream": "yes"}, "stream", "invalid_type"),
    ([("image", png(64, 64))], {"stream": "true", "n": "2"}, "n", None),
    ([("image", png(64, 64))], {"size": "1000x1000"}, "size", "invalid_value"),
    ([("image", png(64, 64))], {"model": "dall-e-3"}, "model", "invalid_value"),
    ([("image", png(64, 32, "RGBA"))], {"model": "dall-e-2"}, "image", "invalid_image_format"),  # not square
    ([("image", png(64, 64, "RGBA")), ("image[]", png(64, 64))], {"model": "dall-e-2"}, "image", "invalid_value"),
    ([("image", png(64, 64, "RGBA"))], {"model": "dall-e-2", "stream": "true"}, "stream", "unknown_parameter"),
])
@sync
async def test_edit_validation(files: list[tuple[str, bytes]], fields: dict[str, str], param: str,
                               code: str | None) -> None:
    async with fake(openai.make_app) as c:
        status, out = await edit(c, files, **fields)
        assert status == 400, out
        assert (out["error"]["param"], out["error"]["code"]) == (param, code), out
        assert not c.charges


@sync
async def test_edit_needs_multipart_and_caps_image_bytes() -> None:
    async with fake(openai.make_app) as c:
        async with c.post(EDITS, json={"prompt": "x", "model": "gpt-image-2"}, headers=AUTH) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_content_type"
        huge = b"\x89PNG\r\n\x1a\n" + bytes(50 * 1024 * 1024)
        status, out = await edit(c, [("image", huge)])
        assert (status, out["error"]["code"]) == (400, "image_too_large")
        status, out = await edit(c, [("image", png(64, 64))], model="dall-e-2")  # RGB, no mask
        assert status == 400
        big_for_dalle = b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024)
        status, out = await edit(c, [("image", big_for_dalle)], model="dall-e-2")
        assert (status, out["error"]["code"]) == (400, "image_too_large")


@sync
async def test_edit_knobs() -> None:
    async with fake(openai.make_app) as c:
        one = [("image", png(64, 64))]
        async with c.post(EDITS, data=form(one)) as r:
            assert r.status == 401 and r.headers["x-request-id"]
        c.knobs.rate_limit_next = 1
        async with c.post(EDITS, data=form(one), headers=AUTH) as r:
            assert r.status == 429 and r.headers["retry-after-ms"] == "1000"
        c.knobs.retired_models = {"gpt-image-2"}
        assert (await edit(c, one))[1]["error"]["code"] == "model_not_found"
        c.knobs.retired_models = set()
        c.knobs.moderate_input = True
        status, out = await edit(c, one)
        assert (status, out["error"]["moderation_details"]["moderation_stage"]) == (400, "input")
        c.knobs.moderate_input, c.knobs.moderate_output_indexes = False, {0}
        assert (await edit(c, one))[1]["error"]["code"] == "moderation_blocked"
        c.knobs.moderate_output_indexes, c.knobs.fail_before_charge_next = set(), 1
        assert (await edit(c, one))[0] == 503
        assert not c.charges
        c.knobs.fail_after_charge_next = 1
        assert (await edit(c, one))[0] == 500
        c.knobs.malformed_body_next = 1
        async with c.post(EDITS, data=form(one), headers=AUTH) as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                await r.json()
        assert len(c.charges) == 2 and len(seen(c.app)) == 7  # the 401 is not recorded


@sync
async def test_chunked_multipart_with_files_first_is_accepted() -> None:
    # The Node SDK's streaming uploads: files before text fields, Transfer-Encoding: chunked.
    boundary = "openai-0123456789"
    image = png(96, 64)
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="image[]"; filename="a.png"\r\n'
              "Content-Type: application/octet-stream\r\n\r\n").encode() + image + b"\r\n"]
    for key, value in (("prompt", "x"), ("model", "gpt-image-2"), ("n", "1")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f"--{boundary}--\r\n".encode())

    async def chunks() -> Any:
        for part in parts:
            yield part

    async with fake(openai.make_app) as c:
        headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        async with c.post(EDITS, data=chunks(), headers=headers) as r:
            assert r.status == 200 and (await r.json())["size"] == "1536x1024"
        assert seen(c.app)[-1].body["image[]"][0]["size"] == (96, 64)
