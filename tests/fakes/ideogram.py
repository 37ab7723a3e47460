"""Fake Ideogram API: legacy ``POST /generate`` (JSON, V_1/V_2/V_2A), ``POST /v1/ideogram-v3/generate`` and
``POST /v1/ideogram-v4/generate`` (multipart; 4.0 takes ``text_prompt`` instead of ``prompt``, speeds
TURBO/DEFAULT/QUALITY), all synchronous and authenticated by the ``Api-Key`` header (not Bearer).

The two endpoints spell aspect ratios differently (``ASPECT_16_9`` vs ``16x9``) and resolutions
differently (``RESOLUTION_1280_720`` vs ``1280x720``); each accepts only its own spelling. Responses are
``{"created": "<ISO-8601 string>", "data": [{url, prompt, resolution, is_image_safe, seed, style_type}]}``.
Input moderation is 422 ``{"error": ...}`` (not charged); output moderation is ``is_image_safe: false``
with ``url: null`` and is still charged. Images are downloadable from this fake.
``POST /v1/ideogram-v3/inpaint`` (masked edit, black = edit) is specified in ideogram_edit.py.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from . import base
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "ideogram"
# Delivered pixel size per aspect ratio (~1 MP, multiples of 16); the key is "W_H" of the ratio.
ASPECTS = {
    "1_1": (1024, 1024), "16_9": (1312, 736), "9_16": (736, 1312), "4_3": (1152, 864),
    "3_4": (864, 1152), "3_2": (1248, 832), "2_3": (832, 1248), "16_10": (1280, 800),
    "10_16": (800, 1280), "3_1": (1536, 512), "1_3": (512, 1536),
}
V3_ONLY_ASPECTS = {"1_2": (720, 1440), "2_1": (1440, 720), "4_5": (896, 1120), "5_4": (1120, 896)}
LEGACY_MODELS = ("V_1", "V_1_TURBO", "V_2", "V_2_TURBO", "V_2A", "V_2A_TURBO", "AUTO")
LEGACY_STYLES = ("AUTO", "GENERAL", "REALISTIC", "DESIGN", "RENDER_3D", "ANIME", "FICTION")
V3_STYLES = ("AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION")
MAGIC = ("AUTO", "ON", "OFF")
SPEEDS = ("FLASH", "TURBO", "DEFAULT", "QUALITY")
PALETTES = ("EMBER", "FRESH", "JUNGLE", "MAGIC", "MELON", "MOSAIC", "PASTEL", "ULTRAMARINE")
V4_SPEEDS = ("TURBO", "DEFAULT", "QUALITY")
SEED_MAX = 2147483647
# USD per output image (ideogram.ai/features/api-pricing): legacy 2.0 Turbo/Default, 3.0 and 4.0 by speed.
PRICES = {"V_2": 0.08, "V_2_TURBO": 0.05, "V_2A": 0.04, "V_2A_TURBO": 0.025, "V_1": 0.06, "V_1_TURBO": 0.02,
          "AUTO": 0.08, "V_3_FLASH": 0.03, "V_3_TURBO": 0.03, "V_3_DEFAULT": 0.06, "V_3_QUALITY": 0.09,
          "V_4_TURBO": 0.03, "V_4_DEFAULT": 0.06, "V_4_QUALITY": 0.10}
URL_TTL_S = 24 * 3600  # "available for a limited period"; 24 h per third-party reports


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers, self.body = status, headers or {}, {"error": message}


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ApiError(400, f"Invalid {name}: {value!r}. Must be one of: {', '.join(allowed)}.")
    return value


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid {name}: must be an integer.") from None
    if isinstance(value, bool) or not lo <= number <= hi:
        raise ApiError(400, f"Invalid {name}: must be between {lo} and {hi}.")
    return number


def _resolution(text: str, sep: str) -> tuple[int, int]:
    """Ideogram's resolution enums are ~1 MP sizes with 512-1536 px sides on a 16 px grid (approximated)."""
    try:
        w, h = (int(v) for v in text.split(sep))
    except ValueError:
        raise ApiError(400, f"Invalid resolution: {text!r}.") from None
    if not (512 <= w <= 1536 and 512 <= h <= 1536 and w % 16 == 0 and h % 16 == 0 and w * h <= 1_120_000):
        raise ApiError(400, f"Invalid resolution: {text!r}.")
    return w, h


def _palette(value: Any) -> None:
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid color_palette: must be an object.")
    if "name" in value:
        _enum("color_palette.name", value["name"], PALETTES)
    elif not isinstance(value.get("members"), list) or not value["members"]:
        raise ApiError(400, "Invalid color_palette: needs 'name' or 'members'.")


def validate_legacy(body: Any) -> dict[str, Any]:
    req = body.get("image_request") if isinstance(body, dict) else None
    if not isinstance(req, dict):
        raise ApiError(400, "Missing required field: image_request.")
    if not isinstance(req.get("prompt"), str) or not req["prompt"]:
        raise ApiError(400, "Missing required field: image_request.prompt.")
    model = _enum("model", req.get("model", "V_2"), LEGACY_MODELS)
    v1, v2a = model.startswith("V_1"), model.startswith("V_2A")
    if "aspect_ratio" in req and "resolution" in req:
        raise ApiError(400, "aspect_ratio and resolution are mutually exclusive.")
    if "resolution" in req:
        if v1 or not str(req["resolution"]).startswith("RESOLUTION_"):
            raise ApiError(400, f"Invalid resolution: {req['resolution']!r}.")
        w, h = _resolution(req["resolution"][len("RESOLUTION_"):], "_")
    else:
        aspect = req.get("aspect_ratio", "ASPECT_1_1")
        _enum("aspect_ratio", aspect, tuple(f"ASPECT_{k}" for k in ASPECTS))
        w, h = ASPECTS[aspect[len("ASPECT_"):]]
    if "style_type" in req and v1:
        raise ApiError(400, "style_type is not supported for model V_1.")
    if "negative_prompt" in req and v2a:
        raise ApiError(400, "negative_prompt is not supported for model V_2A.")
    if "color_palette" in req:
        if v1 or v2a:
            raise ApiError(400, f"color_palette is not supported for model {model}.")
        _palette(req["color_palette"])
    magic = _enum("magic_prompt_option", req.get("magic_prompt_option", "AUTO"), MAGIC)
    return {"model": model, "prompt": req["prompt"], "w": w, "h": h, "magic": magic,
            "style_type": _enum("style_type", req.get("style_type", "AUTO"), LEGACY_STYLES),
            "n": _int("num_images", req.get("num_images", 1), 1, 8),
            "seed": _int("seed", req["seed"], 0, SEED_MAX) if "seed" in req else None}


def validate_v3(form: dict[str, list[str]]) -> dict[str, Any]:
    one = {k: v[-1] for k, v in form.items()}
    if not one.get("prompt"):
        raise ApiError(400, "Missing required field: prompt.")
    if "aspect_ratio" in one and "resolution" in one:
        raise ApiError(400, "aspect_ratio and resolution are mutually exclusive.")
    if "resolution" in one:
        w, h = _resolution(one["resolution"], "x")
    else:
        table = {k.replace("_", "x"): v for k, v in {**ASPECTS, **V3_ONLY_ASPECTS}.items()}
        w, h = table[_enum("aspect_ratio", one.get("aspect_ratio", "1x1"), tuple(table))]
    if "color_palette" in one:
        try:
            _palette(json.loads(one["color_palette"]))  # objects travel as JSON text inside multipart
        except ValueError:
            raise ApiError(400, "Invalid color_palette: not valid JSON.") from None
    if "style_codes" in form and "style_type" in one:
        raise ApiError(400, "style_codes and style_type are mutually exclusive.")
    speed = _enum("rendering_speed", one.get("rendering_speed", "DEFAULT"), SPEEDS)
    return {"model": f"V_3_{speed}", "prompt": one["prompt"], "w": w, "h": h,
            "magic": _enum("magic_prompt", one.get("magic_prompt", "AUTO"), MAGIC),
            "style_type": _enum("style_type", one.get("style_type", "GENERAL"), V3_STYLES),
            "n": _int("num_images", one.get("num_images", 1), 1, 8),
            "seed": _int("seed", one["seed"], 0, SEED_MAX) if "seed" in one else None}


def validate_v4(form: dict[str, list[str]]) -> dict[str, Any]:
    one = {k: v[-1] for k, v in form.items()}
    if "prompt" in one:
        raise ApiError(400, "Unknown field: prompt. Ideogram 4.0 takes text_prompt or json_prompt.")
    if bool(one.get("text_prompt")) == bool(one.get("json_prompt")):
        raise ApiError(400, "Exactly one of text_prompt and json_prompt is required.")
    if "aspect_ratio" in one and "resolution" in one:
        raise ApiError(400, "aspect_ratio and resolution are mutually exclusive.")
    if "resolution" in one:
        w, h = _resolution(one["resolution"], "x")
    else:
        table = {k.replace("_", "x"): v for k, v in {**ASPECTS, **V3_ONLY_ASPECTS}.items()}
        w, h = table[_enum("aspect_ratio", one.get("aspect_ratio", "1x1"), tuple(table))]
    speed = _enum("rendering_speed", one.get("rendering_speed", "DEFAULT"), V4_SPEEDS)
    # A natural-language prompt turns Magic Prompt on; a structured one turns it off.
    return {"model": f"V_4_{speed}", "prompt": one.get("text_prompt") or one["json_prompt"], "w": w, "h": h,
            "magic": "ON" if one.get("text_prompt") else "OFF", "style_type": "AUTO",
            "n": _int("num_images", one.get("num_images", 1), 1, 8),
            "seed": _int("seed", one["seed"], 0, SEED_MAX) if "seed" in one else None}


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    from . import ideogram_edit  # here, not at the top: it builds on this module's helpers

    @web.middleware
    async def envelope(request: web.Request, handler: base.Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return base.json_response(err.body, err.status, err.headers)

    app = base.new_app(knobs, envelope)
    generated = {"images": 0}  # moderate_output_indexes count images across all calls, as BFL's do

    def gate(request: web.Request) -> None:
        if request.headers.get("Api-Key") != knobs.expected_api_key:
            raise ApiError(401, "Unauthorized: missing or invalid Api-Key header.")

    def generate(request: web.Request, job: dict[str, Any]) -> web.Response:
        """Shared tail of both endpoints: knobs, charge, and the ImageObject list."""
        if knobs.moderate_input:
            raise ApiError(422, "Prompt or provided image failed the safety checks")
        if knobs.take("fail_before_charge_next"):
            raise ApiError(503, "Service temporarily unavailable.")
        rid = base.new_uuid()
        # Withheld (unsafe) images are billed too.
        charges.add(PROVIDER, job["model"], job["n"], rid, micros=round(PRICES[job["model"]] * 1_000_000) * job["n"])
        if knobs.take("fail_after_charge_next"):
            raise ApiError(500, "Internal server error.")
        prompt = job["prompt"] if job["magic"] != "ON" else f"{job['prompt']}, vivid detail, cinematic light"
        seed0 = job["seed"] if job["seed"] is not None else secrets.randbelow(SEED_MAX - 8)
        data = make_image(job["w"], job["h"], "png")
        files: base.FileStore = request.app[base.FILES]
        items = []
        for i in range(job["n"]):
            safe = generated["images"] not in knobs.moderate_output_indexes
            generated["images"] += 1
            url = None
            if safe:
                path = f"/api/images/ephemeral/{files.put(data, MIME['png'])}.png"
                exp = int(time.time() + base.ttl(knobs, URL_TTL_S))
                url = f"{base.origin(request)}{path}?exp={exp}&signature={files.sign(path, exp)}"
            items.append({"url": url, "prompt": prompt, "resolution": f"{job['w']}x{job['h']}",
                          "is_image_safe": safe, "seed": min(seed0 + i, SEED_MAX),
                          "style_type": job["style_type"]})
        payload = {"created": datetime.now(UTC).isoformat(), "data": items}
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return base.json_response(payload)

    def rate_limited() -> None:
        if knobs.take("rate_limit_next"):
            raise ApiError(429, "Too many requests: the in-flight request limit was exceeded.",
                           {"Retry-After": base.seconds_header(knobs.retry_after_s)})

    async def legacy(request: web.Request) -> web.Response:
        gate(request)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise ApiError(400, "Request body is not valid JSON.") from None
        base.record(request, body)
        rate_limited()
        return generate(request, validate_legacy(body))

    async def multipart(request: web.Request, files: dict[str, list[bytes]] | None = None) -> dict[str, list[str]]:
        """The form's text fields (they may repeat); file parts are only counted unless ``files`` is given."""
        gate(request)
        if request.content_type != "multipart/form-data":
            raise ApiError(400, "Content-Type must be multipart/form-data.")
        form: dict[str, list[str]] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                if files is not None and name in ("image", "mask"):
                    files.setdefault(name, []).append(value.file.read())
                    continue
                form.setdefault(name, []).append(f"<file {value.filename}>")
            else:
                form.setdefault(name, []).append(str(value))
        base.record(request, form if files is None else {**form, **ideogram_edit.seen_files(files)})
        rate_limited()
        return form

    async def v3(request: web.Request) -> web.Response:
        if "V_3" in knobs.retired_models:
            raise ApiError(404, "Not found.")
        return generate(request, validate_v3(await multipart(request)))

    async def v4(request: web.Request) -> web.Response:
        if "V_4" in knobs.retired_models:
            raise ApiError(404, "Not found.")
        return generate(request, validate_v4(await multipart(request)))

    async def inpaint(request: web.Request) -> web.Response:
        if "V_3" in knobs.retired_models:
            raise ApiError(404, "Not found.")
        files: dict[str, list[bytes]] = {}
        form = await multipart(request, files)
        return generate(request, ideogram_edit.validate(form, files))

    async def download(request: web.Request) -> web.StreamResponse:
        found = request.app[base.FILES].get(request.match_info["key"])
        if found is None or not base.signed_path_ok(request, "exp", "signature"):
            return base.json_response({"error": "Image not found or link expired."}, 404)
        return await base.serve_image(request, knobs, *found)

    app.router.add_post("/generate", legacy)
    app.router.add_post("/v1/ideogram-v3/generate", v3)
    app.router.add_post("/v1/ideogram-v4/generate", v4)
    app.router.add_post(ideogram_edit.PATH, inpaint)
    app.router.add_get("/api/images/ephemeral/{key}.png", download)
    return app
