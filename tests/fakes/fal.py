"""Fake fal.ai queue API: submit, poll ``status_url``, fetch ``response_url``, with ``Authorization: Key``.

``POST /{owner}/{app}[/{subpath}]`` (e.g. ``/fal-ai/flux/dev``) takes the model's JSON input and answers
``{"request_id", "response_url", "status_url", "cancel_url", "queue_position", "status": "IN_QUEUE"}``;
the request is charged when it is queued (the fake's conservative reading: fal bills by output
megapixel, and whether a failed request is billed is not documented). As fal's docs say, the status
and response paths use ``{owner}/{app}`` only: the subpath is dropped.
``GET .../requests/{id}/status`` answers ``IN_QUEUE`` then ``IN_PROGRESS`` (HTTP 202, one of each per
``knobs.polls_before_ready`` poll) and then ``COMPLETED`` (200; 200 vs 202 upstream is unconfirmed);
``GET .../requests/{id}`` answers the model's output ``{"images": [{"url", "width", "height",
"content_type"}], "seed", "has_nsfw_concepts", "prompt", "timings"}``, or for a failed request the
model's error status and body; ``PUT .../cancel`` answers ``CANCELLATION_REQUESTED`` (202) or
``ALREADY_COMPLETED`` (400). Images are served unsigned at ``/files/{key}/{name}`` like fal's CDN.
Validation errors are 422 pydantic-style ``{"detail": [{"loc", "msg", "type"}]}``.
Sources: docs.fal.ai/model-endpoints/queue, fal.ai/models/fal-ai/flux/dev/api, fal-ai/fal-js queue.ts.
"""
from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from . import base
from .bfl_edit import err as _err
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "fal"
PRESETS = {"square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024),
           "portrait_16_9": (576, 1024), "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576)}
# USD per started megapixel (1024x1024 px) of output: fal's model pages.
PRICES = {"fal-ai/flux/dev": 0.025, "fal-ai/flux/schnell": 0.003}
NSFW_MESSAGE = "NSFW content detected in the input prompt"


@dataclass
class Queued:
    model: str
    job: dict[str, Any]
    pending_polls: int
    outcome: str  # "ok" | "error" | "empty"
    started: float = field(default_factory=time.time)
    output: dict[str, Any] | None = None


def validate(body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    if not isinstance(body, dict):
        return {}, [_err("model_attributes_type", ["body"], "Input should be a valid dictionary", body)]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        errors.append(_err("missing", ["body", "prompt"], "Field required", body))
    size = body.get("image_size", "landscape_4_3")
    if isinstance(size, str) and size in PRESETS:
        width, height = PRESETS[size]
    elif isinstance(size, dict) and all(isinstance(size.get(k), int) and not isinstance(size.get(k), bool)
                                        for k in ("width", "height")):
        width, height = size["width"], size["height"]
        for name, value in (("width", width), ("height", height)):
            if not 1 <= value <= 14142:
                errors.append(_err("less_than_equal", ["body", "image_size", name],
                                   "Input should be less than or equal to 14142", value))
    else:
        width, height = 0, 0
        errors.append(_err("enum", ["body", "image_size"], "Input should be an ImageSize or one of "
                           + ", ".join(f"'{p}'" for p in PRESETS), size))
    n = body.get("num_images", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4:
        errors.append(_err("less_than_equal", ["body", "num_images"], "Input should be between 1 and 4", n))
    fmt = body.get("output_format", "jpeg")
    if fmt not in ("jpeg", "png"):
        errors.append(_err("enum", ["body", "output_format"], "Input should be 'jpeg' or 'png'", fmt))
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        errors.append(_err("int_type", ["body", "seed"], "Input should be a valid integer", seed))
    checker = body.get("enable_safety_checker", True)
    if not isinstance(checker, bool):
        errors.append(_err("bool_type", ["body", "enable_safety_checker"], "Input should be a valid boolean", checker))
    job = {"prompt": prompt or "", "w": width, "h": height, "n": n if isinstance(n, int) else 1,
           "format": fmt, "seed": seed if isinstance(seed, int) else secrets.randbelow(2**31),
           "checker": checker is not False}
    return job, errors


def cost_micros(model: str, job: dict[str, Any]) -> int:
    started = max(1, math.ceil(round(job["w"] * job["h"] / (1024 * 1024), 6)))
    return round(PRICES[model] * 1_000_000) * started * job["n"]


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    queue: dict[str, Queued] = {}
    calls = {"accepted": 0}

    def detail(status: int, message: Any, headers: dict[str, str] | None = None) -> web.Response:
        return base.json_response({"detail": message}, status, headers)

    def authorised(request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Key ") or auth[4:] != knobs.expected_api_key:
            return detail(401, "Unauthorized")
        return None

    def urls(request: web.Request, app_id: str, request_id: str) -> dict[str, str]:
        origin = knobs.polling_url_origin or base.origin(request)
        root = f"{origin}/{app_id}/requests/{request_id}"
        return {"response_url": root, "status_url": root + "/status", "cancel_url": root + "/cancel"}

    async def submit(request: web.Request) -> web.Response:
        owner, app, sub = request.match_info["owner"], request.match_info["app"], request.match_info.get("sub", "")
        model = f"{owner}/{app}" + (f"/{sub}" if sub else "")
        if model not in PRICES or model in knobs.retired_models:
            return detail(404, f"Application '{owner}/{app}' not found")
        if (denied := authorised(request)) is not None:
            return denied
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return detail(422, [_err("json_invalid", ["body"], "JSON decode error", {})])
        base.record(request, body)
        if knobs.take("rate_limit_next"):
            return detail(429, "Too many requests", {"Retry-After": base.seconds_header(knobs.retry_after_s)})
        job, errors = validate(body)
        if errors:
            return detail(422, errors)
        if knobs.take("fail_before_charge_next"):
            return detail(503, "Service Unavailable")
        request_id = base.new_uuid()
        charges.add(PROVIDER, model, job["n"], request_id, micros=cost_micros(model, job))
        ordinal = calls["accepted"]
        calls["accepted"] += job["n"]
        if knobs.take("fail_after_charge_next"):
            return detail(500, "Internal Server Error")
        outcome = "error" if knobs.take("task_error_next") else "empty" if knobs.take("empty_output_next") else "ok"
        job["flagged"] = [job["checker"] and (knobs.moderate_input or ordinal + i in knobs.moderate_output_indexes)
                          for i in range(job["n"])]
        queue[request_id] = Queued(model, job, max(0, knobs.polls_before_ready), outcome)
        payload = {"request_id": request_id, **urls(request, f"{owner}/{app}", request_id), "queue_position": 0,
                   "status": "IN_QUEUE"}
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return base.json_response(payload)

    def found(request: web.Request) -> tuple[Queued | None, web.Response | None]:
        if (denied := authorised(request)) is not None:
            return None, denied
        base.record(request, None)
        queued = queue.get(request.match_info["request_id"])
        if queued is None or not queued.model.startswith(f"{request.match_info['owner']}/{request.match_info['app']}"):
            return None, detail(404, "Request not found")
        return queued, None

    async def status(request: web.Request) -> web.Response:
        queued, refused = found(request)
        if queued is None:
            assert refused is not None
            return refused
        app_id = f"{request.match_info['owner']}/{request.match_info['app']}"
        common = {"request_id": request.match_info["request_id"], **urls(request, app_id, request.match_info["request_id"])}
        if queued.pending_polls > 0:
            queued.pending_polls -= 1
            state = "IN_QUEUE" if queued.pending_polls % 2 else "IN_PROGRESS"
            extra = {"queue_position": 0} if state == "IN_QUEUE" else {"logs": None}
            return base.json_response({"status": state, **common, **extra}, 202)
        return base.json_response({"status": "COMPLETED", **common, "logs": None,
                                   "metrics": {"inference_time": round(time.time() - queued.started, 3)}})

    async def result(request: web.Request) -> web.Response:
        queued, refused = found(request)
        if queued is None:
            assert refused is not None
            return refused
        if queued.pending_polls > 0:
            return detail(400, "Request is still in progress")
        if queued.outcome == "error":
            return detail(500, "Internal error while running the model")
        queued.output = queued.output or _output(request, knobs, queued)
        return base.json_response(queued.output)

    async def cancel(request: web.Request) -> web.Response:
        queued, refused = found(request)
        if queued is None:
            assert refused is not None
            return refused
        if queued.pending_polls == 0:
            return base.json_response({"status": "ALREADY_COMPLETED"}, 400)
        return base.json_response({"status": "CANCELLATION_REQUESTED"}, 202)

    async def download(request: web.Request) -> web.StreamResponse:
        stored = request.app[base.FILES].get(request.match_info["key"])
        if stored is None:
            return detail(404, "Not Found")
        return await base.serve_image(request, knobs, *stored)

    app = base.new_app(knobs)
    app.router.add_get("/files/{key}/{name}", download)
    app.router.add_get("/{owner}/{app}/requests/{request_id}/status", status)
    app.router.add_put("/{owner}/{app}/requests/{request_id}/cancel", cancel)
    app.router.add_get("/{owner}/{app}/requests/{request_id}", result)
    app.router.add_post("/{owner}/{app}", submit)
    app.router.add_post("/{owner}/{app}/{sub:.+}", submit)
    return app


def _output(request: web.Request, knobs: Knobs, queued: Queued) -> dict[str, Any]:
    job = queued.job
    images = []
    if queued.outcome != "empty":
        files: base.FileStore = request.app[base.FILES]
        for flagged in job["flagged"]:
            # fal's checker blacks a flagged image out and says so in has_nsfw_concepts.
            data = make_image(job["w"], job["h"], job["format"], 0.0 if flagged else knobs.image_detail)
            key = files.put(data, MIME[job["format"]])
            images.append({"url": f"{base.origin(request)}/files/{key}/{base.new_hex(6)}.{job['format']}",
                           "width": job["w"], "height": job["h"], "content_type": MIME[job["format"]]})
    return {"images": images, "timings": {"inference": round(time.time() - queued.started, 3)},
            "seed": job["seed"], "has_nsfw_concepts": job["flagged"] if images else [], "prompt": job["prompt"]}
