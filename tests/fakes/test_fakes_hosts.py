"""Drive the fal.ai, Replicate and Together fakes over real loopback sockets, as their docs describe the wire."""
from __future__ import annotations

import base64

from . import fal, replicate, together
from .images import image_size
from .testing import fake, sync

FAL = {"Authorization": "Key test-key"}
BEARER = {"Authorization": "Bearer test-key"}


@sync
async def test_fal_queue_submit_status_result_cancel() -> None:
    async with fake(fal.make_app, polls_before_ready=2) as c:
        body = {"prompt": "a fox", "image_size": {"width": 800, "height": 600}, "num_images": 2, "output_format": "png"}
        async with c.post("/fal-ai/flux/dev", json=body, headers=FAL) as r:
            assert r.status == 200
            queued = await r.json()
        assert queued["status"] == "IN_QUEUE" and queued["status_url"] == \
            f"{c.url}/fal-ai/flux/requests/{queued['request_id']}/status"  # the subpath is dropped
        async with c.http.get(queued["response_url"], headers=FAL) as r:
            assert r.status == 400  # not done yet
        async with c.http.put(queued["cancel_url"], headers=FAL) as r:
            assert (r.status, (await r.json())["status"]) == (202, "CANCELLATION_REQUESTED")
        states = []
        for _ in range(3):
            async with c.http.get(queued["status_url"], headers=FAL) as r:
                states.append((r.status, (await r.json())["status"]))
        assert states == [(202, "IN_QUEUE"), (202, "IN_PROGRESS"), (200, "COMPLETED")]
        async with c.http.get(queued["response_url"], headers=FAL) as r:
            output = await r.json()
        assert output["has_nsfw_concepts"] == [False, False] and len(output["images"]) == 2
        async with c.http.get(output["images"][0]["url"]) as r:  # the CDN needs no key
            assert r.content_type == "image/png" and image_size(await r.read()) == (800, 600)
        async with c.http.put(queued["cancel_url"], headers=FAL) as r:
            assert (r.status, (await r.json())["status"]) == (400, "ALREADY_COMPLETED")
        assert [(ch.model, ch.n, ch.micros) for ch in c.charges] == [("fal-ai/flux/dev", 2, 50_000)]


@sync
async def test_fal_refusals() -> None:
    async with fake(fal.make_app) as c:
        async with c.post("/fal-ai/flux/dev", json={"prompt": "x"}) as r:
            assert (r.status, await r.json()) == (401, {"detail": "Unauthorized"})
        async with c.post("/fal-ai/nope/dev", json={"prompt": "x"}, headers=FAL) as r:
            assert r.status == 404
        async with c.post("/fal-ai/flux/dev", json={"prompt": "x", "image_size": "huge", "num_images": 9},
                          headers=FAL) as r:
            detail = (await r.json())["detail"]
        assert r.status == 422 and {tuple(d["loc"]) for d in detail} == {("body", "image_size"), ("body", "num_images")}
        c.knobs.task_error_next = 1
        async with c.post("/fal-ai/flux/dev", json={"prompt": "x"}, headers=FAL) as r:
            queued = await r.json()
        async with c.http.get(queued["status_url"], headers=FAL) as r:
            assert r.status == 202
        async with c.http.get(queued["response_url"], headers=FAL) as r:
            assert r.status == 500  # the model's failure comes back on the result
        assert len(c.charges) == 1


@sync
async def test_replicate_sync_and_async_predictions() -> None:
    async with fake(replicate.make_app, polls_before_ready=0) as c:
        path = "/v1/models/black-forest-labs/flux-1.1-pro/predictions"
        inputs = {"input": {"prompt": "a fox", "aspect_ratio": "custom", "width": 1000, "height": 700,
                            "output_format": "png"}}
        async with c.post(path, json=inputs, headers={**BEARER, "Prefer": "wait=30"}) as r:
            assert r.status == 201
            done = await r.json()
        assert done["status"] == "succeeded" and done["output"].endswith("/out-0.png")
        async with c.http.get(done["output"]) as r:
            assert image_size(await r.read()) == (992, 704)  # rounded to the 32-px grid
        c.knobs.polls_before_ready = 1
        async with c.post(path, json=inputs, headers=BEARER) as r:
            started = await r.json()
        assert started["status"] == "starting" and started["output"] is None
        statuses = []
        for _ in range(2):
            async with c.http.get(started["urls"]["get"], headers=BEARER) as r:
                statuses.append((await r.json())["status"])
        assert statuses == ["processing", "succeeded"]
        c.knobs.moderate_input = True
        async with c.post(path, json=inputs, headers={**BEARER, "Prefer": "wait"}) as r:
            started = await r.json()
        async with c.http.get(started["urls"]["get"], headers=BEARER) as r:
            await r.json()
        async with c.http.get(started["urls"]["get"], headers=BEARER) as r:
            failed = await r.json()
        assert failed["status"] == "failed" and "NSFW" in failed["error"]
        assert c.charges.images() == 3


@sync
async def test_replicate_refusals() -> None:
    async with fake(replicate.make_app, rate_limit_next=1, retry_after_s=7) as c:
        path = "/v1/models/black-forest-labs/flux-1.1-pro/predictions"
        async with c.post(path, json={"input": {"prompt": "x"}}) as r:
            assert r.status == 401 and (await r.json())["title"] == "Unauthenticated"
        async with c.post(path, json={"input": {"prompt": "x"}}, headers=BEARER) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "7"
        async with c.post(path, json={"input": {"prompt": "x"}, "model": "y"}, headers=BEARER) as r:
            refused = await r.json()
        assert r.status == 422 and refused["invalid_fields"][0]["field"] == "model"
        async with c.post(path, json={"input": {"prompt": "x", "aspect_ratio": "custom", "width": 99}},
                          headers=BEARER) as r:
            assert r.status == 422 and (await r.json())["invalid_fields"][0]["field"] == "input.width"
        async with c.post("/v1/models/someone/else/predictions", json={"input": {}}, headers=BEARER) as r:
            assert r.status == 404
        assert len(c.charges) == 0


@sync
async def test_together_images_as_base64_and_url_and_its_errors() -> None:
    async with fake(together.make_app) as c:
        body = {"model": "black-forest-labs/FLUX.1.1-pro", "prompt": "a fox", "width": 1024, "height": 768, "n": 2,
                "response_format": "base64", "output_format": "png"}
        async with c.post("/v1/images/generations", json=body, headers=BEARER) as r:
            answer = await r.json()
        assert answer["object"] == "list" and [d["type"] for d in answer["data"]] == ["b64_json", "b64_json"]
        assert image_size(base64.b64decode(answer["data"][0]["b64_json"])) == (1024, 768)
        async with c.post("/v1/images/generations", json={**body, "response_format": "url", "n": 1},
                          headers=BEARER) as r:
            [item] = (await r.json())["data"]
        async with c.http.get(item["url"]) as r:
            assert image_size(await r.read()) == (1024, 768)
        async with c.post("/v1/images/generations", json=body) as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_api_key"
        async with c.post("/v1/images/generations", json={**body, "model": "nope"}, headers=BEARER) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "model_not_found"
        async with c.post("/v1/images/generations", json={**body, "width": 1001}, headers=BEARER) as r:
            assert r.status == 400 and (await r.json())["error"]["param"] == "width"
        c.knobs.empty_output_next = 1
        async with c.post("/v1/images/generations", json=body, headers=BEARER) as r:
            assert r.status == 200 and (await r.json())["data"] == []
        assert [ch.n for ch in c.charges] == [2, 1, 2]  # the empty answer was charged too
