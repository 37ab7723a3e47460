"""Fake Stability AI v2beta SD3/SD3.5 endpoint: ``POST /v2beta/stable-image/generate/sd3``.

Multipart/form-data is mandatory (even without a file), auth is ``Authorization: Bearer``, one image
per call. ``Accept: image/*`` answers raw image bytes with ``finish-reason``/``seed`` headers;
``Accept: application/json`` answers ``{"image", "finish_reason", "seed"}``. Errors use
``{"id", "name", "errors": [...]}``; input moderation is 403 ``content_moderation`` (not charged),
output moderation is a 200 with finish reason ``CONTENT_FILTERED`` (charged).
``POST /v2beta/stable-image/edit/inpaint`` (same conventions, 5 credits) is specified in stability_edit.py.
"""
from __future__ import annotations

import base64
import secrets
from typing import Any

from aiohttp import web

from . import base, stability_edit
from .images import MIME, image_size, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "stability"
PATH = "/v2beta/stable-image/generate/sd3"
# Pixel size delivered per aspect ratio (Stability's own ComfyUI node labels; ~1 MP for all models).
ASPECT_SIZES = {
    "1:1": (1024, 1024), "5:4": (1088, 896), "3:2": (1216, 832), "16:9": (1344, 768),
    "21:9": (1536, 640), "4:5": (896, 1088), "2:3": (832, 1216), "9:16": (768, 1344),
    "9:21": (640, 1536),
}
MODELS = {"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"}
# Credits per image, 1 credit = $0.01 (Stability's price list as third parties quote it).
CREDITS = {"sd3.5-large": 6.5, "sd3.5-large-turbo": 4.0, "sd3.5-medium": 3.5, "sd3.5-flash": 2.5}
# Since 2025-04-17 the SD3 ids are silently served (and billed) as their SD3.5 equivalents.
REROUTED = {"sd3-large": "sd3.5-large", "sd3-large-turbo": "sd3.5-large-turbo",
            "sd3-medium": "sd3.5-medium"}
STYLE_PRESETS = {"3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art",
                 "enhance", "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound",
                 "neon-punk", "origami", "photographic", "pixel-art", "tile-texture"}
SEED_MAX = 4294967294


class ApiError(Exception):
    def __init__(self, status: int, name: str, *errors: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(name)
        self.status, self.headers = status, headers or {}
        self.body = {"id": base.new_hex(), "name": name, "errors": list(errors)}


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _number(fields: dict[str, Any], name: str, lo: float, hi: float, default: float,
            integer: bool = False) -> float:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise _bad(f"{name}: must be a {'integer' if integer else 'number'}") from None
    if not lo <= value <= hi:
        raise _bad(f"{name}: must be between {lo:g} and {hi:g}")
    return value


def validate(fields: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    prompt = fields.get("prompt", "")
    if not prompt:
        raise _bad("prompt: is required")
    if len(prompt) > 10000:
        raise _bad("prompt: must be at most 10000 characters")
    if len(fields.get("negative_prompt", "")) > 10000:
        raise _bad("negative_prompt: must be at most 10000 characters")
    model = fields.get("model", "sd3.5-large")
    model = REROUTED.get(model, model)
    if model not in MODELS:
        raise _bad(f"model: must be one of {', '.join(sorted(MODELS | REROUTED.keys()))}")
    fmt = fields.get("output_format", "png")
    if fmt not in ("png", "jpeg", "webp"):
        raise _bad("output_format: must be one of png, jpeg, webp")
    preset = fields.get("style_preset")
    if preset is not None and preset not in STYLE_PRESETS:
        raise _bad(f"style_preset: must be one of {', '.join(sorted(STYLE_PRESETS))}")
    seed = int(_number(fields, "seed", 0, SEED_MAX, 0, integer=True))
    _number(fields, "cfg_scale", 1, 10, 4)
    mode = fields.get("mode", "text-to-image")
    if mode == "text-to-image":
        aspect = fields.get("aspect_ratio", "1:1")
        if aspect not in ASPECT_SIZES:
            raise _bad(f"aspect_ratio: must be one of {', '.join(ASPECT_SIZES)}")
        width, height = ASPECT_SIZES[aspect]
    elif mode == "image-to-image":
        if "image" not in files:
            raise _bad("image: is required")
        if "strength" not in fields:
            raise _bad("strength: is required")
        _number(fields, "strength", 0, 1, 0)
        try:
            width, height = image_size(files["image"])
        except Exception:
            raise _bad("image: unsupported or corrupt image") from None
        if min(width, height) < 64:
            raise _bad("image: each side must be at least 64 pixels")
        width, height = width // 64 * 64, height // 64 * 64  # output snaps to the model grid
    else:
        raise _bad("mode: must be one of text-to-image, image-to-image")
    # seed 0 or omitted means "random"; the chosen seed is reported back.
    seed = seed or secrets.randbelow(SEED_MAX) + 1
    return {"model": model, "format": fmt, "seed": seed, "w": width, "h": height}


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    calls = {"accepted": 0}  # ordinal of generation calls, for moderate_output_indexes

    @web.middleware
    async def envelope(request: web.Request, handler: base.Handler) -> web.StreamResponse:
        rid = request[base.REQUEST_ID] = base.new_hex()
        try:
            resp = await handler(request)
        except ApiError as err:
            resp = base.json_response(err.body, err.status, err.headers)
        except web.HTTPNotFound:
            resp = base.json_response(ApiError(404, "not_found", "Not Found").body, 404)
        resp.headers["x-request-id"] = rid
        return resp

    app = base.new_app(knobs, envelope)

    async def generate(request: web.Request) -> web.StreamResponse:
        return await answer(request, validate, lambda files: {k: len(v) for k, v in files.items()})

    async def inpaint(request: web.Request) -> web.StreamResponse:
        def check(fields: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
            return stability_edit.validate(fields, files, _bad, _number, STYLE_PRESETS, SEED_MAX)
        return await answer(request, check, stability_edit.seen_files)

    async def answer(request: web.Request, check: Any, seen_files: Any) -> web.StreamResponse:
        """The flow every endpoint shares: auth, multipart, Accept, knobs, one charged image."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:].strip() != knobs.expected_api_key:
            raise ApiError(401, "unauthorized", "authorization: invalid or missing header value")
        if request.content_type != "multipart/form-data":
            # Real behaviour: JSON or urlencoded bodies are refused even when they carry every field.
            raise _bad("content-type: must be multipart/form-data")
        accept = request.headers.get("Accept", "image/*").split(",")[0].split(";")[0].strip()
        if accept == "application/json":
            as_json = True
        elif accept in ("image/*", "*/*", "") or accept.startswith("image/"):
            as_json = False
        else:
            raise _bad("accept: must be one of image/*, application/json")
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                fields[name] = value
        base.record(request, {**fields, **seen_files(files)})
        if knobs.take("rate_limit_next"):
            raise ApiError(429, "rate_limit_exceeded", "You have exceeded the rate limit of 150 requests "
                           "within a 10 second period, and have been timed out for 60 seconds.",
                           headers={"Retry-After": base.seconds_header(knobs.retry_after_s)})
        job = check(fields, files)
        if knobs.moderate_input:
            raise ApiError(403, "content_moderation", "Your request was flagged by our content moderation "
                           "system, as a result your request was denied and you were not charged.")
        if knobs.take("fail_before_charge_next"):
            raise ApiError(500, "internal_error", "An unexpected server error has occurred, please try "
                           "again later.")
        ordinal = calls["accepted"]
        calls["accepted"] += 1
        charges.add(PROVIDER, job["model"], 1, request[base.REQUEST_ID], micros=round(job.get("credits", CREDITS.get(job["model"], 0)) * 10_000))
        if knobs.take("fail_after_charge_next"):
            raise ApiError(500, "internal_error", "An unexpected server error has occurred, please try "
                           "again later.")
        # Output moderation: the generation ran (and is billed) but the result is flagged.
        finish = "CONTENT_FILTERED" if ordinal in knobs.moderate_output_indexes else "SUCCESS"
        data = make_image(job["w"], job["h"], job["format"])
        mime = MIME[job["format"]]
        if as_json:
            body = base.dumps({"image": base64.b64encode(data).decode(), "finish_reason": finish,
                               "seed": job["seed"]})
            resp = web.Response(body=base.truncated(body) if knobs.take("malformed_body_next") else body)
            resp.headers["Content-Type"] = f"application/json; type={mime}"
            return resp
        if knobs.take("malformed_body_next"):
            data = data[: max(1, len(data) // 3)]  # an image cut off in transit
        return web.Response(body=data, headers={"Content-Type": mime, "finish-reason": finish,
                                                "seed": str(job["seed"])})

    app.router.add_post(PATH, generate)
    app.router.add_post(stability_edit.PATH, inpaint)
    return app
