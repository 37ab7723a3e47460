"""Fake Replicate HTTP API for official models: create a prediction (``Prefer: wait``), poll ``urls.get``.

``POST /v1/models/{owner}/{name}/predictions`` with ``Authorization: Bearer`` and ``{"input": {...}}``
(unknown top-level keys are refused with ``invalid_fields``, as since 2024-05) creates a prediction,
charged at creation (the fake's conservative reading), and answers 201 with the prediction object
``{"id", "model", "version", "input", "output", "error", "logs", "status", "created_at", "started_at",
"completed_at", "urls": {"get", "cancel", "stream", "web"}, "metrics"}``. With ``Prefer: wait[=N]`` the
finished prediction comes back at once when no poll is due (``knobs.polls_before_ready == 0``), else
the wait "runs out" and the answer is ``starting``; ``GET /v1/predictions/{id}`` then answers
``processing`` for that many polls before ``succeeded`` (``output``: one URI for FLUX1.1 [pro]) or
``failed`` (``error``; a moderated image fails with an NSFW message, wording unconfirmed upstream).
Output files are served unsigned at ``/delivery/{key}/out-0.{ext}`` (replicate.delivery's shape).
Errors are problem-details JSON ``{"title", "detail", "status"}``; 429 carries ``Retry-After``.
Sources: replicate.com/docs/topics/predictions/create-a-prediction, the flux-1.1-pro API page.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from . import base
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "replicate"
ASPECTS = {"1:1": (1024, 1024), "16:9": (1344, 768), "3:2": (1216, 832), "2:3": (832, 1216), "4:5": (896, 1120),
           "5:4": (1120, 896), "9:16": (768, 1344), "3:4": (896, 1184), "4:3": (1184, 896)}
FORMATS = {"webp": "webp", "jpg": "jpeg", "png": "png"}
# USD per output image (the models' pages).
PRICES = {"black-forest-labs/flux-1.1-pro": 0.04, "black-forest-labs/flux-schnell": 0.003}
VERSION = "a91bed9b0301d9d10b34b89b1f4d0255f2e2499c59576bfcd13405575dacdb25"
NSFW_ERROR = "NSFW content detected. Try running it again, or try a different prompt."


@dataclass
class Prediction:
    body: dict[str, Any]
    job: dict[str, Any]
    pending_polls: int
    outcome: str  # "succeeded" | "failed" | "nsfw" | "empty"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def validate(raw: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The job and Replicate's `invalid_fields` for a flux-1.1-pro input."""
    problems: list[dict[str, str]] = []
    if not isinstance(raw, dict):
        return {}, [{"type": "invalid_type", "field": "input", "description": "input must be an object"}]
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        problems.append({"type": "required", "field": "input.prompt", "description": "prompt is required"})
    aspect = raw.get("aspect_ratio", "1:1")
    if aspect != "custom" and aspect not in ASPECTS:
        problems.append({"type": "enum", "field": "input.aspect_ratio",
                         "description": "aspect_ratio must be one of: custom, " + ", ".join(ASPECTS)})
    width, height = ASPECTS.get(aspect, (1024, 1024))
    if aspect == "custom":
        size = []
        for name in ("width", "height"):
            value = raw.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not 256 <= value <= 1440:
                problems.append({"type": "range", "field": f"input.{name}",
                                 "description": f"{name} must be an integer from 256 to 1440"})
                value = 1024
            size.append(round(value / 32) * 32)  # "rounded to nearest multiple of 32"
        width, height = size
    tolerance = raw.get("safety_tolerance", 2)
    if not isinstance(tolerance, int) or not 1 <= tolerance <= 6:
        problems.append({"type": "range", "field": "input.safety_tolerance",
                         "description": "safety_tolerance must be from 1 to 6"})
    fmt = raw.get("output_format", "webp")
    if fmt not in FORMATS:
        problems.append({"type": "enum", "field": "input.output_format",
                         "description": "output_format must be one of: webp, jpg, png"})
    seed = raw.get("seed")
    return {"prompt": prompt or "", "w": width, "h": height, "format": FORMATS.get(fmt, "webp"),
            "seed": seed if isinstance(seed, int) else secrets.randbelow(2**31)}, problems


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    predictions: dict[str, Prediction] = {}
    calls = {"accepted": 0}

    def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None,
                **extra: Any) -> web.Response:
        return base.json_response({"title": title, "detail": detail, "status": status, **extra}, status, headers)

    def authorised(request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] != knobs.expected_api_key:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def shown(request: web.Request, prediction_id: str, finish: bool) -> dict[str, Any]:
        """The prediction as the API shows it; `finish` completes a running one first."""
        prediction = predictions[prediction_id]
        origin = knobs.polling_url_origin or base.origin(request)
        body = prediction.body
        body["urls"] = {"get": f"{origin}/v1/predictions/{prediction_id}",
                        "cancel": f"{origin}/v1/predictions/{prediction_id}/cancel",
                        "stream": f"{origin}/v1/predictions/{prediction_id}/stream",
                        "web": f"https://replicate.com/p/{prediction_id}"}
        if not finish or body["status"] not in ("starting", "processing"):
            return body
        outcome = prediction.outcome
        body.update(status="succeeded" if outcome in ("succeeded", "empty") else "failed", completed_at=_now(),
                    started_at=body["started_at"] or _now(), metrics={"predict_time": 0.5, "total_time": 0.6})
        if outcome == "succeeded":
            job, files = prediction.job, request.app[base.FILES]
            key = files.put(make_image(job["w"], job["h"], job["format"], knobs.image_detail), MIME[job["format"]])
            ext = "jpg" if job["format"] == "jpeg" else job["format"]
            body["output"] = f"{base.origin(request)}/delivery/{key}/out-0.{ext}"
        elif outcome == "nsfw":
            body["error"] = NSFW_ERROR
        elif outcome == "failed":
            body["error"] = "E6716 Unexpected error handling prediction"
        return body

    async def create(request: web.Request) -> web.Response:
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        if (denied := authorised(request)) is not None:
            return denied
        if model not in PRICES or model in knobs.retired_models:
            return problem(404, "Not found", "The requested resource could not be found.")
        try:
            payload = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return problem(400, "Bad request", "The request body is not valid JSON")
        base.record(request, payload)
        if knobs.take("rate_limit_next"):
            return problem(429, "Request was throttled", "Request was throttled. Your rate limit resets in ~30s.",
                           {"Retry-After": base.seconds_header(knobs.retry_after_s)})
        unknown = sorted(set(payload) - {"input", "webhook", "webhook_events_filter", "stream"}) \
            if isinstance(payload, dict) else ["body"]
        job, problems = validate(payload.get("input") if isinstance(payload, dict) else None)
        problems += [{"type": "additional_property_not_allowed", "field": k,
                      "description": f"Additional property {k} is not allowed"} for k in unknown]
        if problems:
            return problem(422, "Input validation failed", problems[0]["description"], invalid_fields=problems)
        if knobs.take("fail_before_charge_next"):
            return problem(503, "Service Unavailable", "Replicate is temporarily unavailable")
        prediction_id = secrets.token_hex(13)[:26]
        charges.add(PROVIDER, model, 1, prediction_id, micros=round(PRICES[model] * 1_000_000))
        ordinal = calls["accepted"]
        calls["accepted"] += 1
        if knobs.take("fail_after_charge_next"):
            return problem(500, "Internal Server Error", "Something went wrong")
        if knobs.moderate_input or ordinal in knobs.moderate_output_indexes:
            outcome = "nsfw"
        elif knobs.take("task_error_next"):
            outcome = "failed"
        elif knobs.take("empty_output_next"):
            outcome = "empty"
        else:
            outcome = "succeeded"
        body = {"id": prediction_id, "model": model, "version": VERSION, "input": payload["input"], "logs": "",
                "output": None, "data_removed": False, "error": None, "status": "starting", "created_at": _now(),
                "started_at": None, "completed_at": None}
        pending = max(0, knobs.polls_before_ready)
        predictions[prediction_id] = Prediction(body, job, pending, outcome)
        # Prefer: wait holds the request until the prediction is done; "done" here is when no poll is due.
        waited = request.headers.get("Prefer", "").startswith("wait") and pending == 0
        answer = shown(request, prediction_id, finish=waited)
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(answer)), status=201, content_type="application/json")
        return base.json_response(answer, 201)

    async def get(request: web.Request) -> web.Response:
        if (denied := authorised(request)) is not None:
            return denied
        base.record(request, None)
        prediction = predictions.get(request.match_info["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if prediction.pending_polls > 0:
            prediction.pending_polls -= 1
            prediction.body.update(status="processing", started_at=prediction.body["started_at"] or _now())
            return base.json_response(shown(request, request.match_info["id"], finish=False))
        return base.json_response(shown(request, request.match_info["id"], finish=True))

    async def download(request: web.Request) -> web.StreamResponse:
        stored = request.app[base.FILES].get(request.match_info["key"])
        if stored is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        return await base.serve_image(request, knobs, *stored)

    app = base.new_app(knobs)
    app.router.add_post("/v1/models/{owner}/{name}/predictions", create)
    app.router.add_get("/v1/predictions/{id}", get)
    app.router.add_get("/delivery/{key}/{file}", download)
    return app
