"""Fake Black Forest Labs FLUX API: submit-then-poll with ``x-key`` auth.

``POST /v1/flux-pro-1.1`` | ``/v1/flux-pro`` | ``/v1/flux-dev`` | ``/v1/flux-2-pro`` (JSON) answers
``{"id", "polling_url", "cost", "input_mp", "output_mp"}`` and is charged on acceptance. The absolute
``polling_url`` (also reachable as ``GET /v1/get_result?id=``) answers ``Pending`` for
``knobs.polls_before_ready`` polls, then one of ``Ready`` (``result.sample`` = signed, 10-minute URL on
this fake), ``Request Moderated`` / ``Content Moderated`` (``details["Moderation Reasons"]``) or
``Error``; unknown ids answer ``Task not found``. Errors are FastAPI-style ``{"detail": ...}``, with
pydantic-v2 items and 422 for validation.

Image inputs -- ``/v1/flux-kontext-pro|max``, ``/v1/flux-pro-1.0-fill`` and FLUX.2's ``input_image``
.. ``input_image_8`` with per-input-megapixel pricing -- are specified in bfl_edit.py.
"""
from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from . import base, bfl_edit
from .bfl_edit import check_int as _check_int
from .bfl_edit import check_range as _check_range
from .bfl_edit import err as _err
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "bfl"


@dataclass(frozen=True)
class Spec:
    grid: int  # width/height multiple
    lo: int
    hi: int  # per-side maximum (FLUX.2: bounded by 4 MP instead)
    default: tuple[int, int]
    max_safety: int
    credits: float  # per image (FLUX.1), or for the first megapixel (FLUX.2)
    # name -> (min, max, integer?) for model-specific tuning fields
    extras: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    # FLUX.2: credits for each megapixel after the first (and for each input megapixel).
    per_extra_mp: float | None = None

    def cost(self, width: int, height: int, input_pixels: int = 0) -> float:
        """Credits for one image, by BFL's published formula (FLUX.2: first MP + further MPs + input MPs)."""
        if self.per_extra_mp is None:
            return self.credits
        output_mp = width * height / (1024 * 1024)
        input_mp = math.ceil(round(input_pixels / (1024 * 1024), 6))
        return round(self.credits + (max(0, math.ceil(round(output_mp, 6)) - 1) + input_mp) * self.per_extra_mp, 4)


# FLUX.1: 256-1440, x32, default 1024x768. FLUX.2: >=64, x16, <=4 MP. Credits: 1 credit = $0.01
# (docs.bfl.ai/quick_start/pricing: FLUX1.1 [pro] 4; FLUX.2 [pro] 3 + 1.5/MP, [max] 7 + 3, [flex] 5 + 5,
# [klein] 4B 1.4 + 0.1, 9B 1.5 + 0.2).
FLEX: dict[str, tuple[float, float, bool]] = {"steps": (1, 50, True), "guidance": (1.5, 10, False)}
SPECS = {
    "flux-pro-1.1": Spec(32, 256, 1440, (1024, 768), 6, 4.0),
    "flux-pro": Spec(32, 256, 1440, (1024, 768), 6, 5.0,
                     {"steps": (1, 50, True), "guidance": (1.5, 5, False), "interval": (1, 4, False)}),
    "flux-dev": Spec(32, 256, 1440, (1024, 768), 6, 2.5,
                     {"steps": (1, 50, True), "guidance": (1.5, 5, False)}),
    "flux-2-pro": Spec(16, 64, 4096, (1024, 1024), 5, 3.0, per_extra_mp=1.5),
    "flux-2-max": Spec(16, 64, 4096, (1024, 1024), 5, 7.0, per_extra_mp=3.0),
    "flux-2-flex": Spec(16, 64, 4096, (1024, 1024), 5, 5.0, FLEX, per_extra_mp=5.0),
    "flux-2-klein-4b": Spec(16, 64, 4096, (1024, 1024), 5, 1.4, per_extra_mp=0.1),
    "flux-2-klein-9b": Spec(16, 64, 4096, (1024, 1024), 5, 1.5, per_extra_mp=0.2),
}
FOUR_MP = 4 * 1024 * 1024
SAMPLE_TTL_S = 600  # delivery URLs are valid for 10 minutes


def validate(spec: Spec, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (job, pydantic-style errors). Unknown fields are ignored, as pydantic does by default."""
    errors: list[dict[str, Any]] = []
    if not isinstance(body, dict):
        return {}, [_err("model_attributes_type", ["body"], "Input should be a valid dictionary or object "
                         "to extract fields from", body)]
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        errors.append(_err("string_type", ["body", "prompt"], "Input should be a valid string", prompt))
    if not prompt and not (body.get("image_prompt") or body.get("input_image")):
        errors.append(_err("missing", ["body", "prompt"], "Field required", body))
    size: dict[str, int] = {}
    for i, name in enumerate(("width", "height")):
        raw = body.get(name)
        if raw is None or (raw == 0 and spec.grid == 16):  # FLUX.2: 0 means "model default"
            size[name] = spec.default[i]
            continue
        value = _check_int(errors, name, raw)
        if value is None:
            continue
        _check_range(errors, name, value, spec.lo, spec.hi)
        if value % spec.grid:
            errors.append(_err("multiple_of", ["body", name], f"Input should be a multiple of {spec.grid}",
                               value, {"multiple_of": spec.grid}))
        size[name] = value
    if spec.grid == 16 and len(size) == 2 and size["width"] * size["height"] > FOUR_MP:
        errors.append(_err("value_error", ["body"], "Value error, width * height must not exceed 4 "
                           "megapixels", body, {"error": {}}))
    for name, (lo, hi, integer) in {"safety_tolerance": (0, spec.max_safety, True), **spec.extras}.items():
        if body.get(name) is None:
            continue
        number = _check_int(errors, name, body[name]) if integer else body[name]
        if not integer and (isinstance(number, bool) or not isinstance(number, (int, float))):
            errors.append(_err("float_type", ["body", name], "Input should be a valid number", number))
        elif number is not None:
            _check_range(errors, name, number, lo, hi)
    seed = body.get("seed")
    if seed is not None:
        seed = _check_int(errors, "seed", seed)
    fmt = body.get("output_format") or "jpeg"
    if fmt not in ("jpeg", "png"):
        errors.append(_err("enum", ["body", "output_format"], "Input should be 'jpeg' or 'png'", fmt,
                           {"expected": "'jpeg' or 'png'"}))
    if not isinstance(body.get("prompt_upsampling", False), bool):
        errors.append(_err("bool_type", ["body", "prompt_upsampling"], "Input should be a valid boolean",
                           body["prompt_upsampling"]))
    job = {"prompt": prompt or "", "w": size.get("width"), "h": size.get("height"), "format": fmt,
           "seed": seed if seed is not None else secrets.randbelow(2**31)}
    return job, errors


@dataclass
class Task:
    job: dict[str, Any]
    outcome: str  # terminal status, decided at submit time
    pending_polls: int
    started: float = field(default_factory=time.time)
    result: dict[str, Any] | None = None  # made on the first Ready poll, then repeated verbatim


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    tasks: dict[str, Task] = {}
    calls = {"accepted": 0}

    def detail(status: int, message: Any, headers: dict[str, str] | None = None) -> web.Response:
        return base.json_response({"detail": message}, status, headers)

    def authorised(request: web.Request) -> web.Response | None:
        key = request.headers.get("x-key")
        if key is None:
            return detail(403, "Not authenticated")
        if key != knobs.expected_api_key:
            return detail(403, "Not authenticated - Invalid Authentication")
        return None

    async def submit(request: web.Request) -> web.Response:
        model = request.match_info["model"]
        if (model not in SPECS and model not in bfl_edit.EDIT_CREDITS) or model in knobs.retired_models:
            return detail(404, "Not Found")
        if (denied := authorised(request)) is not None:
            return denied
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return detail(422, [_err("json_invalid", ["body", exc.pos], "JSON decode error", {},
                                     {"error": exc.msg})])
        base.record(request, body)
        if knobs.take("rate_limit_next"):
            # Concurrency limit (24 active tasks per key); body shape is unconfirmed upstream.
            return detail(429, "You have reached the maximum number of active tasks. Please wait for "
                          "some of your tasks to finish.",
                          {"Retry-After": base.seconds_header(knobs.retry_after_s)})
        infos, errors = await bfl_edit.resolve(body, bfl_edit.image_fields(model))
        if model in bfl_edit.EDIT_CREDITS:
            validate_edit = bfl_edit.validate_fill if model.endswith("fill") else bfl_edit.validate_kontext
            job, more = validate_edit(body if isinstance(body, dict) else {}, infos)
            credits = bfl_edit.EDIT_CREDITS[model]
        else:
            spec = SPECS[model]
            job, more = validate(spec, body)
            if spec.grid == 16 and not more:  # FLUX.2: reference images, priced per input megapixel
                more = bfl_edit.check_refs(model, body)
                if "input_image" in infos and not body.get("width") and not body.get("height"):
                    job["w"], job["h"] = bfl_edit.size_from_input(infos["input_image"])
            credits = spec.cost(job.get("w") or 0, job.get("h") or 0, bfl_edit.input_pixels(infos))
        errors += more
        if errors:
            return detail(422, errors)
        request.app[bfl_edit.LAST]["last"] = infos
        if knobs.take("fail_before_charge_next"):
            return detail(503, "Service Unavailable")
        task_id = base.new_uuid()
        charges.add(PROVIDER, model, 1, task_id, micros=round(credits * 10_000))
        ordinal = calls["accepted"]
        calls["accepted"] += 1
        if knobs.take("fail_after_charge_next"):
            return detail(500, "Internal Server Error")
        if knobs.moderate_input:
            outcome = "Request Moderated"  # BFL reports input moderation on the poll, not the submit
        elif knobs.take("task_error_next"):
            outcome = "Error"
        elif ordinal in knobs.moderate_output_indexes:
            outcome = "Content Moderated"
        else:
            outcome = "Ready"
        tasks[task_id] = Task(job, outcome, max(0, knobs.polls_before_ready))
        mp = round(job["w"] * job["h"] / 1_000_000, 2)
        poll_origin = knobs.polling_url_origin or base.origin(request)
        payload = {"id": task_id, "polling_url": f"{poll_origin}/v1/get_result?id={task_id}",
                   "cost": credits, "input_mp": round(bfl_edit.input_pixels(infos) / 1_000_000, 2),
                   "output_mp": mp}
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return base.json_response(payload)

    async def get_result(request: web.Request) -> web.Response:
        if (denied := authorised(request)) is not None:
            return denied
        task_id = request.query.get("id")
        if task_id is None:
            return detail(422, [_err("missing", ["query", "id"], "Field required", None)])
        base.record(request, None)
        answer: dict[str, Any] = {"id": task_id, "status": "Task not found", "result": None,
                                  "progress": None, "details": None}
        task = tasks.get(task_id)
        if task is None:
            return base.json_response(answer)  # the documented example answers 200, not 404
        if task.pending_polls > 0:
            task.pending_polls -= 1
            answer.update(status="Pending", progress=round(0.9 / (task.pending_polls + 1), 2))
            return base.json_response(answer)
        answer["status"] = task.outcome
        if task.outcome in ("Request Moderated", "Content Moderated"):
            # Key spelled with a space and capitals, as the real API does.
            answer["details"] = {"Moderation Reasons": ["Sexual Content"]}
        elif task.outcome == "Ready":
            task.result = task.result or _result(request, knobs, task)
            answer["result"] = task.result
        return base.json_response(answer)

    download = base.blob_download(knobs)

    app = base.new_app(knobs)
    app[bfl_edit.LAST] = {}
    app.router.add_post("/v1/{model}", submit)
    app.router.add_get("/v1/get_result", get_result)
    app.router.add_get("/results/{key}/sample.{ext}", download)
    return app


def _result(request: web.Request, knobs: Knobs, task: Task) -> dict[str, Any]:
    job = task.job
    files: base.FileStore = request.app[base.FILES]
    key = files.put(make_image(job["w"], job["h"], job["format"]), MIME[job["format"]])
    path = f"/results/{key}/sample.{job['format']}"
    exp = int(time.time() + base.ttl(knobs, SAMPLE_TTL_S))
    end = time.time()
    return {"sample": f"{base.origin(request)}{path}?se={exp}&sp=r&sv=2024-08-04&sr=b&rsct="
                      f"{MIME[job['format']]}&sig={files.sign(path, exp)}",
            "prompt": job["prompt"], "seed": job["seed"], "start_time": task.started,
            "end_time": end, "duration": round(end - task.started, 3)}
