"""Fake Together AI images API: ``POST /v1/images/generations``, OpenAI-style and synchronous.

Takes ``{"model", "prompt", "width", "height", "n", "steps", "seed", "response_format": "base64" | "url",
"output_format": "jpeg" | "png", ...}`` with ``Authorization: Bearer`` and answers ``{"id", "model",
"object": "list", "data": [{"index", "b64_json", "type": "b64_json"}]}`` (or ``{"index", "url", "type":
"url"}`` items, served by this fake under ``/imgproxy/``). The call is charged when it is answered,
per started output megapixel (1024x1024 px). Errors use the OpenAI envelope ``{"error": {"message",
"type", "param", "code"}}``; a flagged prompt or output fails the whole call with 422 and an NSFW
message (Together's own wording is unconfirmed). Sources: docs.together.ai/reference/post-images-generations.
"""
from __future__ import annotations

import base64
import math
import time
from typing import Any

import orjson
from aiohttp import web

from . import base
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "together"
# USD per started megapixel of output (third-party transcriptions of Together's price list).
PRICES = {"black-forest-labs/FLUX.1.1-pro": 0.04, "black-forest-labs/FLUX.1-schnell": 0.0027}


def error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    return base.json_response({"error": {"message": message, "type": type_, "param": param, "code": code}},
                              status, headers)


def validate(body: Any) -> tuple[dict[str, Any], web.Response | None]:
    if not isinstance(body, dict):
        return {}, error(400, "Request body must be a JSON object")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return {}, error(400, "prompt is required", param="prompt")
    size = []
    for name in ("width", "height"):
        value = body.get(name, 1024)
        if not isinstance(value, int) or isinstance(value, bool) or not 64 <= value <= 1792 or value % 8:
            return {}, error(400, f"{name} must be a multiple of 8 between 64 and 1792", param=name)
        size.append(value)
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4:
        return {}, error(400, "n must be between 1 and 4", param="n")
    response_format = body.get("response_format", "url")
    if response_format not in ("base64", "url"):
        return {}, error(400, "response_format must be one of: base64, url", param="response_format")
    fmt = body.get("output_format", "jpeg")
    if fmt not in ("jpeg", "png"):
        return {}, error(400, "output_format must be one of: jpeg, png", param="output_format")
    return {"prompt": prompt, "w": size[0], "h": size[1], "n": n, "response_format": response_format,
            "format": fmt}, None


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    calls = {"images": 0}

    async def generate(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] != knobs.expected_api_key:
            return error(401, "Invalid API key provided. You can find your API key at "
                         "https://api.together.xyz/settings/api-keys.", code="invalid_api_key")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return error(400, "Request body is not valid JSON")
        base.record(request, body)
        model = body.get("model") if isinstance(body, dict) else None
        if model not in PRICES or model in knobs.retired_models:
            return error(404, f"Unable to access model {model}. Please visit https://api.together.ai/models to "
                         "view the list of supported models.", code="model_not_found")
        if knobs.take("rate_limit_next"):
            return error(429, "You have exceeded the rate limit for this model", type_="rate_limit_exceeded",
                         headers={"Retry-After": base.seconds_header(knobs.retry_after_s)})
        job, refused = validate(body)
        if refused is not None:
            return refused
        first = calls["images"]
        flagged = knobs.moderate_input or any(first + i in knobs.moderate_output_indexes for i in range(job["n"]))
        if flagged:
            calls["images"] += job["n"]
            return error(422, "NSFW content detected by the safety checker; try a different prompt")
        if knobs.take("fail_before_charge_next"):
            return error(503, "The server is overloaded or not ready yet.", type_="server_error")
        started = max(1, math.ceil(round(job["w"] * job["h"] / (1024 * 1024), 6)))
        request_id = "tg-" + base.new_hex(8)
        charges.add(PROVIDER, model, job["n"], request_id,
                    micros=round(PRICES[model] * 1_000_000) * started * job["n"])
        calls["images"] += job["n"]
        if knobs.take("fail_after_charge_next"):
            return error(500, "Internal server error", type_="server_error")
        data: list[dict[str, Any]] = []
        if not knobs.take("empty_output_next"):
            for index in range(job["n"]):
                image = make_image(job["w"], job["h"], job["format"], knobs.image_detail)
                if job["response_format"] == "base64":
                    data.append({"index": index, "b64_json": base64.b64encode(image).decode(), "type": "b64_json"})
                else:
                    key = request.app[base.FILES].put(image, MIME[job["format"]])
                    data.append({"index": index, "url": f"{base.origin(request)}/imgproxy/{key}", "type": "url"})
        payload = {"id": request_id, "model": model, "object": "list", "created": int(time.time()), "data": data}
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return base.json_response(payload, headers={"x-request-id": request_id})

    async def download(request: web.Request) -> web.StreamResponse:
        stored = request.app[base.FILES].get(request.match_info["key"])
        if stored is None:
            return error(404, "Not found")
        return await base.serve_image(request, knobs, *stored)

    app = base.new_app(knobs)
    app.router.add_post("/v1/images/generations", generate)
    app.router.add_get("/imgproxy/{key}", download)
    return app
