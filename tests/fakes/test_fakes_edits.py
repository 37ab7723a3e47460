"""Drive the edit endpoints of the BFL, Stability, Ideogram and Gemini fakes over real loopback sockets."""
from __future__ import annotations

import base64
import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from . import bfl, bfl_edit, gemini, google, ideogram, stability
from .base import seen
from .images import image_size, make_image
from .testing import Ctx, fake, sync

BFL = {"x-key": "test-key"}
SAI = {"Authorization": "Bearer test-key", "Accept": "image/*"}
IDEO = {"Api-Key": "test-key"}
GEMINI = {"x-goog-api-key": "test-key"}
INPAINT = "/v2beta/stable-image/edit/inpaint"
IDEO_INPAINT = "/v1/ideogram-v3/inpaint"


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), (90, 120, 150, 255)[: len(mode)]).save(buf, "PNG")
    return buf.getvalue()


def bw_mask(width: int, height: int, edit: str, share: float = 0.5, mode: str = "L") -> bytes:
    """A black/white mask whose left ``share`` of the columns is ``edit`` ("white" or "black")."""
    on, off = (255, 0) if edit == "white" else (0, 255)
    img = Image.new("L", (width, height), off)
    img.paste(on, (0, 0, int(width * share), height))
    buf = io.BytesIO()
    img.convert(mode).save(buf, "PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- BFL


async def submit_and_fetch(c: Ctx, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    async with c.post(f"/v1/{model}", json=body, headers=BFL) as r:
        assert r.status == 200, await r.text()
        sub = await r.json()
    async with c.http.get(sub["polling_url"], headers=BFL) as r:
        result = (await r.json())["result"]
    async with c.http.get(result["sample"]) as r:
        return sub, await r.read()


@sync
async def test_bfl_kontext_base64_data_url_and_http_url() -> None:
    async with fake(bfl.make_app, polls_before_ready=0) as c:
        sub, sample = await submit_and_fetch(c, "flux-kontext-pro", {"prompt": "make it night",
                                                                     "input_image": b64(png(1536, 1024))})
        assert (sub["cost"], sub["input_mp"]) == (4.0, 1.57)
        assert sample[:4] == b"\x89PNG" and image_size(sample) == (1248, 832)  # ~1 MP at the input's 3:2
        assert bfl_edit.last_inputs(c.app)["input_image"]["size"] == (1536, 1024)
        data_url = "data:image/jpeg;base64," + b64(make_image(800, 800, "jpeg"))
        sub, sample = await submit_and_fetch(c, "flux-kontext-max", {"prompt": "x", "input_image": data_url,
                                                                     "aspect_ratio": "16:9",
                                                                     "output_format": "jpeg"})
        assert sub["cost"] == 8.0 and image_size(sample) == (1376, 768)
        # An http(s) URL is downloaded by the fake: use one of its own signed result links.
        _, _ = await submit_and_fetch(c, "flux-pro-1.1", {"prompt": "x"})
        async with c.http.get(c.url + "/v1/get_result", params={"id": c.charges[-1].request_id}, headers=BFL) as r:
            url = (await r.json())["result"]["sample"]
        sub, _ = await submit_and_fetch(c, "flux-kontext-pro", {"prompt": "x", "input_image": url})
        assert bfl_edit.last_inputs(c.app)["input_image"]["size"] == (1024, 768)
        assert [(ch.model, ch.micros) for ch in c.charges] == [
            ("flux-kontext-pro", 40_000), ("flux-kontext-max", 80_000), ("flux-pro-1.1", 40_000),
            ("flux-kontext-pro", 40_000)]


@pytest.mark.parametrize("model, body, loc, kind", [
    ("flux-kontext-pro", {"prompt": "x", "input_image": "not base64!"}, "input_image", "value_error"),
    ("flux-kontext-pro", {"prompt": "x", "input_image": b64(b"GIF89a....")}, "input_image", "value_error"),
    ("flux-kontext-pro", {"prompt": "x", "input_image": "http://127.0.0.1:9/nothing.png"}, "input_image",
     "value_error"),
    ("flux-kontext-pro", {"prompt": "x", "aspect_ratio": "3:1"}, "aspect_ratio", "value_error"),
    ("flux-kontext-pro", {"input_image": b64(png(64, 64))}, "prompt", "missing"),
    ("flux-pro-1.0-fill", {"prompt": "x"}, "image", "missing"),
    ("flux-pro-1.0-fill", {"image": b64(png(64, 64))}, "mask", "value_error"),  # no mask, no alpha
    ("flux-pro-1.0-fill", {"image": b64(png(64, 64)), "mask": b64(bw_mask(32, 64, "white"))}, "mask",
     "value_error"),
    ("flux-pro-1.0-fill", {"image": b64(png(64, 64, "RGBA")), "steps": 10}, "steps", "greater_than_equal"),
    ("flux-2-klein-4b", {"prompt": "x", **{f"input_image_{i}": b64(png(64, 64)) for i in (2, 5)}},
     "input_image_5", "extra_forbidden"),
])
@sync
async def test_bfl_edit_validation(model: str, body: dict[str, Any], loc: str, kind: str) -> None:
    async with fake(bfl.make_app) as c:
        async with c.post(f"/v1/{model}", json=body, headers=BFL) as r:
            assert r.status == 422
            items = (await r.json())["detail"]
        assert (items[0]["loc"], items[0]["type"]) == (["body", loc], kind)
        assert not c.charges


@sync
async def test_bfl_fill_white_is_inpaint_and_keeps_the_size() -> None:
    async with fake(bfl.make_app, polls_before_ready=0) as c:
        body = {"image": b64(png(1000, 600)), "mask": b64(bw_mask(1000, 600, "white", 0.25)), "prompt": "a cat"}
        sub, sample = await submit_and_fetch(c, "flux-pro-1.0-fill", body)
        assert sub["cost"] == 5.0 and sample[:3] == b"\xff\xd8\xff" and image_size(sample) == (1000, 600)
        assert bfl_edit.last_inputs(c.app)["mask"]["edit_share"] == 0.25
        _, sample = await submit_and_fetch(c, "flux-pro-1.0-fill", {"image": b64(png(640, 640, "RGBA"))})
        assert image_size(sample) == (640, 640)  # the alpha channel is the mask
        assert seen(c.app)[0].body["prompt"] == "a cat"


@sync
async def test_bfl_flux2_references_are_priced_per_input_megapixel() -> None:
    async with fake(bfl.make_app, polls_before_ready=0) as c:
        refs = {"input_image": b64(png(1000, 600)), "input_image_2": b64(png(1024, 1024))}
        sub, sample = await submit_and_fetch(c, "flux-2-pro", {"prompt": "x", **refs})
        # out 992x592 (< 1 MP): 3; inputs 1.62 MP -> 2 MP at 1.5
        assert (sub["cost"], sub["input_mp"]) == (6.0, round((600_000 + 1024 * 1024) / 1e6, 2))
        assert image_size(sample) == (992, 592)  # the first input's size on the x16 grid
        four = {name: b64(png(512, 512)) for name in bfl_edit.FLUX2_REFS[:4]}
        sub, sample = await submit_and_fetch(c, "flux-2-klein-4b", {"prompt": "x", "width": 1024,
                                                                    "height": 1024, **four})
        assert sub["cost"] == 1.5 and image_size(sample) == (1024, 1024)  # 1.4 + 1 input MP at 0.1
        big = {"input_image": b64(png(3000, 2000))}
        sub, sample = await submit_and_fetch(c, "flux-2-max", {"prompt": "x", **big})
        assert image_size(sample) == (2496, 1664) and sub["cost"] == 7.0 + 3 * 3.0 + 6 * 3.0
        assert [ch.micros for ch in c.charges] == [60_000, 15_000, 340_000]


# ---------------------------------------------------------------- Stability


def sai_form(files: dict[str, bytes], **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for key, value in {"prompt": "a red door", **fields}.items():
        form.add_field(key, value)
    for name, data in files.items():
        form.add_field(name, data, filename=f"{name}.png", content_type="image/png")
    return form


@sync
async def test_stability_inpaint_happy_paths() -> None:
    async with fake(stability.make_app) as c:
        files = {"image": png(1024, 768), "mask": bw_mask(1024, 768, "white")}
        async with c.post(INPAINT, data=sai_form(files, seed="7", output_format="webp"), headers=SAI) as r:
            assert r.status == 200 and r.content_type == "image/webp"
            assert (r.headers["finish-reason"], r.headers["seed"]) == ("SUCCESS", "7")
            assert image_size(await r.read()) == (1024, 768)
        sent = seen(c.app)[-1].body
        assert sent["mask"]["edit_share"] == 0.5 and sent["image"]["size"] == (1024, 768) and sent["seed"] == "7"
        headers = {**SAI, "Accept": "application/json"}
        async with c.post(INPAINT, data=sai_form({"image": png(512, 512, "RGBA")}, grow_mask="20"),
                          headers=headers) as r:  # no mask: the alpha channel is the mask
            out = await r.json()
        assert out["finish_reason"] == "SUCCESS" and image_size(base64.b64decode(out["image"])) == (512, 512)
        async with c.post(INPAINT, data=sai_form({"image": png(512, 512), "mask": bw_mask(256, 256, "white")}),
                          headers=SAI) as r:
            assert r.status == 200  # a mask of another size is stretched to the image
        assert [(ch.model, ch.micros) for ch in c.charges] == [("inpaint", 50_000)] * 3


@pytest.mark.parametrize("files, fields, first_error", [
    ({}, {}, "image: is required"),
    ({"image": b"nope"}, {}, "image: must be a valid PNG, JPEG or WebP image"),
    ({"image": png(32, 512, "RGBA")}, {}, "image: every side must be at least 64 pixels"),
    ({"image": png(1600, 600, "RGBA")}, {}, "image: aspect ratio must be between 1:2.5 and 2.5:1"),
    ({"image": png(512, 512)}, {}, "mask: required when the image has no alpha channel"),
    ({"image": png(512, 512, "RGBA")}, {"prompt": ""}, "prompt: is required"),
    ({"image": png(512, 512, "RGBA")}, {"grow_mask": "21"}, "grow_mask: must be between 0 and 20"),
    ({"image": png(512, 512, "RGBA")}, {"output_format": "gif"}, "output_format: must be one of png, jpeg, webp"),
])
@sync
async def test_stability_inpaint_validation(files: dict[str, bytes], fields: dict[str, str], first_error: str) -> None:
    async with fake(stability.make_app) as c:
        async with c.post(INPAINT, data=sai_form(files, **fields), headers=SAI) as r:
            assert r.status == 400 and (await r.json())["errors"] == [first_error]
        assert not c.charges


@sync
async def test_stability_inpaint_moderation() -> None:
    async with fake(stability.make_app, moderate_input=True) as c:
        files = {"image": png(512, 512), "mask": bw_mask(512, 512, "white")}
        async with c.post(INPAINT, data=sai_form(files), headers=SAI) as r:
            assert r.status == 403 and (await r.json())["name"] == "content_moderation"
        c.knobs.moderate_input, c.knobs.moderate_output_indexes = False, {0}
        async with c.post(INPAINT, data=sai_form(files), headers=SAI) as r:
            assert r.headers["finish-reason"] == "CONTENT_FILTERED"
        assert len(c.charges) == 1


# ---------------------------------------------------------------- Ideogram


@sync
async def test_ideogram_inpaint_black_is_edit() -> None:
    async with fake(ideogram.make_app, moderate_output_indexes={1}) as c:
        form = sai_form({"image": png(1200, 800), "mask": bw_mask(1200, 800, "black", 0.5, "RGB")},
                        rendering_speed="TURBO", num_images="2", seed="3")
        async with c.post(IDEO_INPAINT, data=form, headers=IDEO) as r:
            assert r.status == 200, await r.text()
            out = await r.json()
        first, second = out["data"]
        assert first["resolution"] == "1200x800" and first["seed"] == 3 and second["url"] is None
        async with c.http.get(first["url"]) as r:
            assert image_size(await r.read()) == (1200, 800)
        sent = seen(c.app)[-1].body
        assert sent["mask"][0]["edit_share"] == 0.5 and sent["rendering_speed"] == ["TURBO"]
        assert [(ch.model, ch.n, ch.micros) for ch in c.charges] == [("V_3_TURBO", 2, 60_000)]


@pytest.mark.parametrize("files, fields, status", [
    ({"image": png(64, 64)}, {}, 400),  # no mask
    ({"image": png(64, 64), "mask": bw_mask(32, 64, "black")}, {}, 400),  # other size
    ({"image": png(64, 64), "mask": bw_mask(64, 64, "black", 0.0)}, {}, 400),  # nothing to edit
    ({"image": b"nope", "mask": bw_mask(64, 64, "black")}, {}, 400),
    ({"image": png(64, 64), "mask": bw_mask(64, 64, "black")}, {"prompt": ""}, 400),
    ({"image": png(64, 64), "mask": bw_mask(64, 64, "black")}, {"rendering_speed": "FAST"}, 400),
])
@sync
async def test_ideogram_inpaint_validation(files: dict[str, bytes], fields: dict[str, str], status: int) -> None:
    async with fake(ideogram.make_app) as c:
        async with c.post(IDEO_INPAINT, data=sai_form(files, **fields), headers=IDEO) as r:
            assert r.status == status and "error" in await r.json()
        async with c.post(IDEO_INPAINT, data=sai_form(files, **fields), headers={"Authorization": "Bearer x"}) as r:
            assert r.status == 401
        assert not c.charges


@sync
async def test_ideogram_inpaint_input_moderation() -> None:
    async with fake(ideogram.make_app, moderate_input=True) as c:
        form = sai_form({"image": png(64, 64), "mask": bw_mask(64, 64, "black")})
        async with c.post(IDEO_INPAINT, data=form, headers=IDEO) as r:
            assert r.status == 422
        assert not c.charges


# ---------------------------------------------------------------- Gemini


def gemini_body(*parts: dict[str, Any], **image_config: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": list(parts)}],
            "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": image_config}}


def inline(data: bytes, mime: str = "image/png", snake: bool = False) -> dict[str, Any]:
    if snake:
        return {"inline_data": {"mime_type": mime, "data": b64(data)}}
    return {"inlineData": {"mimeType": mime, "data": b64(data)}}


GEN_URL = "/v1beta/models/{}:generateContent"


@sync
async def test_gemini_input_images_are_decoded_counted_and_priced() -> None:
    async with fake(google.make_app) as c:
        body = gemini_body(inline(png(1600, 900)), {"text": "make it snow"}, inline(png(300, 300), snake=True))
        async with c.post(GEN_URL.format("gemini-3-pro-image"), json=body, headers=GEMINI) as r:
            assert r.status == 200, await r.text()
            out = await r.json()
        usage = out["usageMetadata"]
        image_in = [d["tokenCount"] for d in usage["promptTokensDetails"] if d["modality"] == "IMAGE"]
        assert image_in == [258 * 3 * 2 + 258]  # 1600x900: 3x2 tiles of 768; 300x300: one 258
        data = next(p["inlineData"]["data"] for p in out["candidates"][0]["content"]["parts"] if "inlineData" in p)
        assert image_size(base64.b64decode(data)) == (1376, 768)  # no aspectRatio: the first input's 16:9
        assert [(i["type"], i["size"]) for i in gemini.last_inputs(c.app)] == [("png", (1600, 900)),
                                                                            ("png", (300, 300))]
        assert c.charges[0].micros == gemini._cost("gemini-3-pro-image", usage)


@pytest.mark.parametrize("model, parts, message", [
    ("gemini-3-pro-image", [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}], "Base64 decoding failed"),
    ("gemini-3-pro-image", [inline(b"plain text, not pixels")], "Unable to process input image"),
    ("gemini-3-pro-image", [inline(png(8, 8), "image/gif")], "mimeType parameter with value image/gif"),
    ("gemini-3-pro-image", [inline(png(8, 8))] * 15, "at most 14 images"),
    ("gemini-2.5-flash-image", [inline(png(8, 8))] * 4, "at most 3 images"),
])
@sync
async def test_gemini_input_image_refusals(model: str, parts: list[dict[str, Any]], message: str) -> None:
    async with fake(google.make_app) as c:
        async with c.post(GEN_URL.format(model), json=gemini_body({"text": "x"}, *parts), headers=GEMINI) as r:
            err = (await r.json())["error"]
        assert (r.status, err["status"]) == (400, "INVALID_ARGUMENT") and message in err["message"]
        assert not c.charges
