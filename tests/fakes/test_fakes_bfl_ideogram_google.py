"""Drive the BFL, Ideogram and Google fakes over real loopback sockets (see test_fakes.py)."""
from __future__ import annotations

import base64
from typing import Any

import aiohttp

from . import bfl, google, ideogram
from .images import image_size
from .testing import Ctx, fake, sync

BFL = {"x-key": "test-key"}
IDEO = {"Api-Key": "test-key"}
GEMINI = {"x-goog-api-key": "test-key"}
PROMPT = {"instances": [{"prompt": "a fox"}]}
GEMINI_URL = "/v1beta/models/imagen-3.0-generate-002:predict"
VERTEX_URL = ("/v1/projects/p1/locations/us-central1/publishers/google/models/"
              "imagen-3.0-generate-002:predict")


async def poll(c: Ctx, polling_url: str) -> list[dict[str, Any]]:
    answers = []
    for _ in range(10):
        async with c.http.get(polling_url, headers=BFL) as r:
            assert r.status == 200
            answers.append(await r.json())
        if answers[-1]["status"] != "Pending":
            return answers
    raise AssertionError("never left Pending")


# ---------------------------------------------------------------- BFL


@sync
async def test_bfl_submit_poll_ready_download() -> None:
    async with fake(bfl.make_app, polls_before_ready=2) as c:
        body = {"prompt": "a fox", "width": 1024, "height": 768, "seed": 7}
        async with c.post("/v1/flux-pro-1.1", json=body, headers=BFL) as r:
            sub = await r.json()
        assert sub["cost"] == 4.0 and sub["polling_url"].startswith(c.url + "/v1/get_result?id=")
        answers = await poll(c, sub["polling_url"])
        assert [a["status"] for a in answers] == ["Pending", "Pending", "Ready"]
        result = answers[-1]["result"]
        assert result["seed"] == 7 and "sig=" in result["sample"]
        async with c.http.get(result["sample"]) as r:
            assert r.content_type == "image/jpeg" and image_size(await r.read()) == (1024, 768)
        async with c.http.get(c.url + "/v1/get_result", params={"id": "nope"}, headers=BFL) as r:
            assert (await r.json())["status"] == "Task not found"
        async with c.http.get(c.url + "/v1/get_result", params={"id": sub["id"]}) as r:
            assert r.status == 403  # x-key is required on polls too
        flux2 = {"prompt": "x", "width": 1040, "height": 1040}  # FLUX.2: x16 grid, not x32
        async with c.post("/v1/flux-2-pro", json=flux2, headers=BFL) as r:
            assert r.status == 200
        assert [ch.model for ch in c.charges] == ["flux-pro-1.1", "flux-2-pro"]


@sync
async def test_bfl_validation_and_auth() -> None:
    async with fake(bfl.make_app) as c:
        body = {"prompt": "x", "width": 1000, "height": 2048}
        async with c.post("/v1/flux-dev", json=body, headers=BFL) as r:
            assert r.status == 422
            kinds = {(d["loc"][1], d["type"]) for d in (await r.json())["detail"]}
        assert kinds == {("width", "multiple_of"), ("height", "less_than_equal")}
        async with c.post("/v1/flux-pro", json={"prompt": "x"}, headers={"x-key": "wrong"}) as r:
            assert r.status == 403
            assert await r.json() == {"detail": "Not authenticated - Invalid Authentication"}
        assert not c.charges


@sync
async def test_bfl_terminal_statuses_and_failures() -> None:
    async with fake(bfl.make_app, polls_before_ready=0) as c:
        async def outcome() -> dict[str, Any]:
            async with c.post("/v1/flux-pro", json={"prompt": "x"}, headers=BFL) as r:
                return (await poll(c, (await r.json())["polling_url"]))[-1]
        c.knobs.moderate_input = True
        got = await outcome()
        assert got["status"] == "Request Moderated" and got["details"]["Moderation Reasons"]
        c.knobs.moderate_input, c.knobs.moderate_output_indexes = False, {1}
        got = await outcome()
        assert got["status"] == "Content Moderated" and got["result"] is None
        c.knobs.task_error_next = 1
        assert (await outcome())["status"] == "Error"
        assert len(c.charges) == 3  # charged on accepted submit
        c.knobs.fail_after_charge_next = 1
        async with c.post("/v1/flux-pro", json={"prompt": "x"}, headers=BFL) as r:
            assert r.status == 500 and "detail" in await r.json()
        c.knobs.fail_before_charge_next = 1
        async with c.post("/v1/flux-pro", json={"prompt": "x"}, headers=BFL) as r:
            assert r.status == 503
        c.knobs.rate_limit_next = 1
        async with c.post("/v1/flux-pro", json={"prompt": "x"}, headers=BFL) as r:
            assert r.status == 429 and "Retry-After" in r.headers
        assert len(c.charges) == 4


# ---------------------------------------------------------------- Ideogram


@sync
async def test_ideogram_legacy_with_unsafe_output() -> None:
    async with fake(ideogram.make_app, moderate_output_indexes={1}) as c:
        body = {"image_request": {"prompt": "poster", "model": "V_2", "aspect_ratio": "ASPECT_16_9",
                                  "num_images": 2, "seed": 5}}
        async with c.post("/generate", json=body, headers=IDEO) as r:
            out = await r.json()
        assert isinstance(out["created"], str) and "T" in out["created"]
        first, second = out["data"]
        assert first["is_image_safe"] and first["resolution"] == "1312x736" and first["seed"] == 5
        assert second == {**second, "url": None, "is_image_safe": False}
        async with c.http.get(first["url"]) as r:
            assert image_size(await r.read()) == (1312, 736)
        assert c.charges.images() == 2  # the withheld image is billed too


@sync
async def test_ideogram_v3_multipart_and_spellings() -> None:
    async with fake(ideogram.make_app) as c:
        form = aiohttp.FormData({"prompt": "poster", "aspect_ratio": "16x9", "rendering_speed": "TURBO"},
                                default_to_multipart=True)
        async with c.post("/v1/ideogram-v3/generate", data=form, headers=IDEO) as r:
            assert r.status == 200 and (await r.json())["data"][0]["resolution"] == "1312x736"
        form = aiohttp.FormData({"prompt": "poster", "aspect_ratio": "ASPECT_16_9"},
                                default_to_multipart=True)
        async with c.post("/v1/ideogram-v3/generate", data=form, headers=IDEO) as r:
            assert r.status == 400
        form = aiohttp.FormData({"prompt": "poster"})  # urlencoded: refused, the endpoint is multipart
        async with c.post("/v1/ideogram-v3/generate", data=form, headers=IDEO) as r:
            assert r.status == 400
        bad = {"image_request": {"prompt": "x", "aspect_ratio": "16x9"}}
        async with c.post("/generate", json=bad, headers=IDEO) as r:
            assert r.status == 400
        async with c.post("/generate", json={"image_request": {"prompt": "x"}},
                          headers={"Authorization": "Bearer test-key"}) as r:
            assert r.status == 401  # Api-Key, not Bearer
        c.knobs.moderate_input = True
        async with c.post("/generate", json={"image_request": {"prompt": "x"}}, headers=IDEO) as r:
            assert r.status == 422 and "error" in await r.json()
        assert c.charges.images() == 1


# ---------------------------------------------------------------- Google


@sync
async def test_google_gemini_and_vertex_happy() -> None:
    async with fake(google.make_app) as c:
        body = {**PROMPT, "parameters": {"sampleCount": 2, "aspectRatio": "16:9"}}
        async with c.post(GEMINI_URL, json=body, headers=GEMINI) as r:
            preds = (await r.json())["predictions"]
        assert len(preds) == 2 and preds[0]["mimeType"] == "image/png"
        assert image_size(base64.b64decode(preds[0]["bytesBase64Encoded"])) == (1408, 768)
        body = {**PROMPT, "parameters": {"sampleCount": 1, "outputOptions": {"mimeType": "image/jpeg"}}}
        async with c.post(VERTEX_URL, json=body, headers={"Authorization": "Bearer test-key"}) as r:
            preds = (await r.json())["predictions"]
        assert preds[0]["mimeType"] == "image/jpeg" and c.charges.images() == 3


@sync
async def test_google_filtering_refusal_and_errors() -> None:
    async with fake(google.make_app, moderate_output_indexes={0, 2}) as c:
        body = {**PROMPT, "parameters": {"sampleCount": 3, "includeRaiReason": True}}
        async with c.post(GEMINI_URL, json=body, headers=GEMINI) as r:
            preds = (await r.json())["predictions"]
        assert "bytesBase64Encoded" in preds[0] and "filtered out 2" in preds[1]["raiFilteredReason"]
        body = {**PROMPT, "parameters": {"sampleCount": 1}}
        c.knobs.moderate_output_indexes = {0}
        async with c.post(GEMINI_URL, json=body, headers=GEMINI) as r:
            assert r.status == 200 and await r.json() == {}
        assert c.charges.images() == 1  # only the delivered image
        c.knobs.moderate_output_indexes, c.knobs.moderate_input = set(), True
        async with c.post(GEMINI_URL, json=body, headers=GEMINI) as r:
            err = (await r.json())["error"]
        assert (r.status, err["status"]) == (400, "INVALID_ARGUMENT") and "Support codes" in err["message"]
        c.knobs.moderate_input, c.knobs.rate_limit_next = False, 1
        async with c.post(GEMINI_URL, json=body, headers=GEMINI) as r:
            err = (await r.json())["error"]
        assert (r.status, err["status"]) == (429, "RESOURCE_EXHAUSTED")
        assert err["details"][-1]["retryDelay"] == "1s"
        async with c.post(GEMINI_URL, json=body, headers={"x-goog-api-key": "bad"}) as r:
            assert (await r.json())["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        async with c.post(VERTEX_URL, json=body) as r:
            assert r.status == 401 and (await r.json())["error"]["status"] == "UNAUTHENTICATED"
        async with c.post("/v1beta/models/imagen-9:predict", json=body, headers=GEMINI) as r:
            assert r.status == 404
        async with c.post(GEMINI_URL, json={**body, "extra": 1}, headers=GEMINI) as r:
            assert r.status == 400 and "Unknown name" in (await r.json())["error"]["message"]
