"""Drive the OpenAI and Stability fakes (and the shared knobs/server) over real loopback sockets.

Plain sync pytest tests (no pytest-asyncio): each body is a coroutine run by ``asyncio.run``.
"""
from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import pytest

from . import bfl, google, ideogram, openai, stability
from .base import seen
from .images import image_size
from .knobs import ChargeLog, Knobs
from .server import FakeServer
from .testing import fake, sync

OPENAI = {"Authorization": "Bearer test-key"}
BFL = {"x-key": "test-key"}
IDEO = {"Api-Key": "test-key"}
GEMINI = {"x-goog-api-key": "test-key"}
PROMPT = {"instances": [{"prompt": "a fox"}]}
GEMINI_URL = "/v1beta/models/imagen-3.0-generate-002:predict"
GEN = "/v1/images/generations"


def sd3_form(**fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in {"prompt": "a fox", **fields}.items():
        form.add_field(key, value)
    form.add_field("none", b"", filename="none")  # the dummy file part official examples send
    return form


# ---------------------------------------------------------------- OpenAI


@sync
async def test_openai_dalle3_url_mode_and_download() -> None:
    async with fake(openai.make_app) as c:
        body = {"model": "dall-e-3", "prompt": "a fox", "size": "1792x1024", "quality": "hd"}
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            assert r.status == 200 and r.headers["x-request-id"].startswith("req_")
            out = await r.json()
        assert isinstance(out["created"], int) and out["data"][0]["revised_prompt"]
        async with c.http.get(out["data"][0]["url"]) as r:
            assert r.status == 200 and r.content_type == "image/png"
            assert image_size(await r.read()) == (1792, 1024)
        async with c.http.get(out["data"][0]["url"].replace("sig=", "sig=0")) as r:
            assert r.status == 403  # tampered signature
        assert [(ch.model, ch.n) for ch in c.charges] == [("dall-e-3", 1)]
        assert seen(c.app)[0].body["quality"] == "hd"


@sync
async def test_openai_dalle2_b64_many() -> None:
    async with fake(openai.make_app) as c:
        body = {"model": "dall-e-2", "prompt": "x", "n": 3, "size": "256x256", "response_format": "b64_json"}
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            out = await r.json()
        assert len(out["data"]) == 3 and "revised_prompt" not in out["data"][0]
        assert image_size(base64.b64decode(out["data"][0]["b64_json"])) == (256, 256)
        assert c.charges.images("openai") == 3


@sync
async def test_openai_gpt_image_wire() -> None:
    async with fake(openai.make_app) as c:
        body = {"model": "gpt-image-1", "prompt": "x", "n": 2, "size": "1536x1024", "quality": "low",
                "output_format": "jpeg"}
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            out = await r.json()
        assert out["usage"]["output_tokens"] > 0 and out["quality"] == "low" and out["size"] == "1536x1024"
        raw = base64.b64decode(out["data"][1]["b64_json"])
        assert raw[:3] == b"\xff\xd8\xff" and image_size(raw) == (1536, 1024)
        body = {"model": "gpt-image-2", "prompt": "x", "size": "1280x720"}
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            assert r.status == 200 and (await r.json())["size"] == "1280x720"


@pytest.mark.parametrize("body, param, code", [
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format",
     "unknown_parameter"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n", "invalid_value"),
    ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, None, "invalid_size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"}, "size", "invalid_value"),
    ({"model": "gpt-image-1", "prompt": "x", "quality": "hd"}, "quality", "invalid_value"),
    ({"model": "dall-e-3"}, "prompt", "missing_required_parameter"),
    ({"prompt": "x", "n": "2"}, "n", "invalid_type"),
    ({"prompt": "x", "colour": "red"}, "colour", "unknown_parameter"),
])
@sync
async def test_openai_validation(body: dict[str, Any], param: str | None, code: str) -> None:
    async with fake(openai.make_app) as c:
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            assert r.status == 400 and "x-request-id" in r.headers
            err = (await r.json())["error"]
        assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
        assert not c.charges


@sync
async def test_openai_auth_json_and_knobs() -> None:
    async with fake(openai.make_app) as c:
        ok = {"model": "dall-e-3", "prompt": "x"}
        async with c.post(GEN, json=ok) as r:
            assert r.status == 401 and r.headers["x-request-id"]
        async with c.post(GEN, json=ok, headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_api_key"
        async with c.post(GEN, data=b"{bad", headers=OPENAI) as r:
            assert r.status == 400 and "parse the JSON" in (await r.json())["error"]["message"]
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 2
        async with c.post(GEN, json=ok, headers=OPENAI) as r:
            assert r.status == 429 and r.headers["retry-after"] == "2"
            assert r.headers["retry-after-ms"] == "2000"
            assert (await r.json())["error"]["code"] == "rate_limit_exceeded"
        c.knobs.fail_before_charge_next = 1
        async with c.post(GEN, json=ok, headers=OPENAI) as r:
            assert r.status == 503 and (await r.json())["error"]["type"] == "server_error"
        assert len(c.charges) == 0
        c.knobs.fail_after_charge_next = 1
        async with c.post(GEN, json=ok, headers=OPENAI) as r:
            assert r.status == 500
        assert len(c.charges) == 1
        c.knobs.malformed_body_next = 1
        async with c.post(GEN, json=ok, headers=OPENAI) as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                await r.json()
        assert len(c.charges) == 2
        async with c.post(GEN, json=ok, headers=OPENAI) as r:
            assert r.status == 200  # counters are spent: back to normal


@sync
async def test_openai_moderation_forms() -> None:
    async with fake(openai.make_app, moderate_input=True) as c:
        async with c.post(GEN, json={"model": "dall-e-3", "prompt": "x"}, headers=OPENAI) as r:
            err = (await r.json())["error"]
        assert r.status == 400 and err["code"] == "content_policy_violation"
        c.knobs.moderate_input, c.knobs.moderate_output_indexes = False, {1}
        body = {"model": "gpt-image-1", "prompt": "x", "n": 2}
        async with c.post(GEN, json=body, headers=OPENAI) as r:
            err = (await r.json())["error"]
        assert (err["type"], err["code"]) == ("image_generation_user_error", "moderation_blocked")
        assert err["moderation_details"]["moderation_stage"] == "output" and not c.charges


@sync
async def test_image_url_redirect_and_endless_knobs() -> None:
    async with fake(openai.make_app) as c:
        async with c.post(GEN, json={"model": "dall-e-2", "prompt": "x"}, headers=OPENAI) as r:
            url = (await r.json())["data"][0]["url"]
        c.knobs.redirect_image_to = "http://169.254.169.254/latest/meta-data/"
        async with c.http.get(url, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == c.knobs.redirect_image_to
        c.knobs.redirect_image_to, c.knobs.endless_image_body = None, True
        got = 0
        async with c.http.get(url) as r:
            assert r.status == 200 and r.content_length is None
            async for chunk in r.content.iter_chunked(65536):
                got += len(chunk)
                if got > 2 * 1024 * 1024:
                    break  # bounded read, then hang up
        assert got > 2 * 1024 * 1024


# ---------------------------------------------------------------- Stability


SD3 = "/v2beta/stable-image/generate/sd3"


@sync
async def test_stability_image_and_json_modes() -> None:
    async with fake(stability.make_app) as c:
        hdrs = {"Authorization": "Bearer test-key", "Accept": "image/*"}
        async with c.post(SD3, data=sd3_form(aspect_ratio="16:9", seed="42"), headers=hdrs) as r:
            assert r.status == 200 and r.content_type == "image/png"
            assert (r.headers["finish-reason"], r.headers["seed"]) == ("SUCCESS", "42")
            assert image_size(await r.read()) == (1344, 768)
        hdrs["Accept"] = "application/json"
        async with c.post(SD3, data=sd3_form(output_format="jpeg", model="sd3-medium"), headers=hdrs) as r:
            out = await r.json()
        assert out["finish_reason"] == "SUCCESS" and out["seed"] > 0
        assert image_size(base64.b64decode(out["image"])) == (1024, 1024)
        assert [ch.model for ch in c.charges] == ["sd3.5-large", "sd3.5-medium"]  # sd3-* is re-routed


@sync
async def test_stability_errors_and_moderation() -> None:
    async with fake(stability.make_app) as c:
        hdrs = {"Authorization": "Bearer test-key", "Accept": "application/json"}
        async with c.post(SD3, json={"prompt": "a fox"}, headers=hdrs) as r:
            assert r.status == 400
            assert await r.json() == {"id": (await r.json())["id"], "name": "bad_request",
                                      "errors": ["content-type: must be multipart/form-data"]}
        async with c.post(SD3, data=sd3_form(), headers={"Accept": "image/*"}) as r:
            assert r.status == 401 and (await r.json())["name"] == "unauthorized"
        async with c.post(SD3, data=sd3_form(aspect_ratio="16x9"), headers=hdrs) as r:
            assert r.status == 400 and (await r.json())["errors"][0].startswith("aspect_ratio")
        c.knobs.moderate_input = True
        async with c.post(SD3, data=sd3_form(), headers=hdrs) as r:
            assert r.status == 403 and (await r.json())["name"] == "content_moderation"
        assert not c.charges
        c.knobs.moderate_input, c.knobs.moderate_output_indexes = False, {1}
        reasons = []
        for _ in range(3):  # a fan-out of three calls: the second one is filtered
            async with c.post(SD3, data=sd3_form(), headers=hdrs) as r:
                reasons.append((await r.json())["finish_reason"])
        assert reasons == ["SUCCESS", "CONTENT_FILTERED", "SUCCESS"] and c.charges.images() == 3
        c.knobs.rate_limit_next = 1
        async with c.post(SD3, data=sd3_form(), headers=hdrs) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "1"


# ---------------------------------------------------------------- cross-cutting


@pytest.mark.parametrize("factory, path, kw", [
    (ideogram.make_app, "/generate", {"json": {"image_request": {"prompt": "x"}}, "headers": IDEO}),
    (google.make_app, GEMINI_URL, {"json": PROMPT, "headers": GEMINI}),
    (bfl.make_app, "/v1/flux-dev", {"json": {"prompt": "x"}, "headers": BFL}),
])
@sync
async def test_malformed_and_fail_after_charge(factory: Any, path: str, kw: dict[str, Any]) -> None:
    async with fake(factory, malformed_body_next=1, fail_after_charge_next=1) as c:
        async with c.post(path, **kw) as r:
            assert r.status >= 500
        async with c.post(path, **kw) as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                await r.json()
        async with c.post(path, **kw) as r:
            await r.json()
        assert len(c.charges) == 3


def test_fake_server_thread_and_latency() -> None:
    knobs = Knobs(latency_s=0.2)
    with FakeServer(openai.make_app(knobs, ChargeLog())) as url:
        async def call() -> float:
            loop = asyncio.get_running_loop()
            start = loop.time()
            async with aiohttp.ClientSession() as http:
                async with http.post(url + GEN, json={"prompt": "x"}, headers=OPENAI) as r:
                    assert r.status == 200
            return loop.time() - start
        assert asyncio.run(call()) >= 0.2


def test_official_openai_sdk_reads_the_fake() -> None:
    # The SDK is the strictest reader of OpenAI's wire we have: types, error classes, request ids.
    import openai as sdk

    knobs = Knobs()
    with FakeServer(openai.make_app(knobs, ChargeLog())) as url:
        client = sdk.OpenAI(api_key="test-key", base_url=url + "/v1", max_retries=0)
        out = client.images.generate(model="gpt-image-1", prompt="x", quality="low", output_format="webp")
        assert out.usage is not None and out.output_format == "webp"
        knobs.rate_limit_next = 1
        with pytest.raises(sdk.RateLimitError) as err:
            client.images.generate(model="dall-e-3", prompt="x")
        assert err.value.request_id and err.value.code == "rate_limit_exceeded"
