"""Image inputs of the fake BFL API: FLUX.1 Kontext, FLUX.1 Fill and FLUX.2 reference images.

Same ``x-key`` auth, submit-then-poll flow, task statuses, knobs and submit answer ``{"id",
"polling_url", "cost", "input_mp", "output_mp"}`` as bfl.py; ``input_mp`` is the input images' total
pixels / 1e6 (2 decimals), ``cost`` the credits charged (1 credit = $0.01, ChargeLog ``micros`` =
credits * 10,000).

Image fields take raw base64, a ``data:image/...;base64,`` URL, or an ``http(s)`` URL that the fake
downloads (at most 20 MB, 10 s); the bytes must be PNG, JPEG or WebP. Anything else is 422 with
``{"detail": [{"type": "value_error", "loc": ["body", <field>], "msg": "Value error, ...", "input":
<the first 40 characters>}]}``.

``POST /v1/flux-kontext-pro`` | ``/v1/flux-kontext-max`` (JSON): ``prompt`` (required string),
``input_image`` (optional: without it Kontext generates from text), ``input_image_2`` .. ``input_image_4``
(experimental multi-reference), ``aspect_ratio`` ``"W:H"`` between 21:9 and 9:21 (default: the first
input's ratio, else 1:1), ``seed``, ``prompt_upsampling`` (bool), ``safety_tolerance`` 0..6 (default 2;
the "at most 2 when editing" limit third parties quote is not enforced), ``output_format`` jpeg | png
(default png), ``webhook_url``, ``webhook_secret``. The output is about 1 MP at that ratio (sides
multiples of 32; 1:1 is 1024x1024). Credits: 4 (pro) and 8 (max) per image, whatever the inputs.

``POST /v1/flux-pro-1.0-fill`` (JSON): ``image`` (required), ``mask`` (optional, same pixel size as the
image: **white = inpaint, black = keep**, greys thresholded at 128; without it the image's alpha channel
is the mask, transparent = inpaint, and an image with neither is 422), ``prompt`` (default ""), ``steps``
15..50 (50), ``guidance`` 1.5..100 (60), ``prompt_upsampling`` (false), ``seed``, ``output_format`` jpeg |
png (jpeg), ``safety_tolerance`` 0..6 (2), ``webhook_url``, ``webhook_secret``. The output has the image's
pixel size. Credits: 5.

FLUX.2 (``/v1/flux-2-pro`` | ``-max`` | ``-flex`` | ``-klein-4b`` | ``-klein-9b``): the generation fields of
bfl.py plus ``input_image``, ``input_image_2`` .. ``input_image_8`` (klein: up to ``input_image_4``; a
higher one is 422 ``extra_forbidden``, stricter than pydantic's default of ignoring it). Without
``width``/``height`` the output takes the first input's size (snapped down to multiples of 16, shrunk to
at most 4 MP). Credits = first MP + (ceil(output MP) - 1) * per-MP + ceil(total input MP) * per-MP, with
MP = 1024 * 1024 pixels (BFL's formula; 1 MP in + 1 MP out on [pro] is 3 + 1.5 = 4.5).

Recording: ``Seen.body`` is the JSON as sent; ``last_inputs(app)`` maps each image field of the last
submit to ``inputs.describe`` of its decoded bytes (the Fill ``mask`` also with ``edit_share``, the share
of white pixels, and ``edit_box``, their bounding box).
"""
from __future__ import annotations

import math
import re
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from .inputs import describe, edit_box, edit_share, from_b64

# Credits per image of the image-conditioned FLUX.1 endpoints (docs.bfl.ai pricing): flat, inputs free.
EDIT_CREDITS = {"flux-kontext-pro": 4.0, "flux-kontext-max": 8.0, "flux-pro-1.0-fill": 5.0}
KONTEXT_REFS = ("input_image", "input_image_2", "input_image_3", "input_image_4")
FLUX2_REFS = ("input_image", *(f"input_image_{i}" for i in range(2, 9)))
KLEIN_REFS = 4
FETCH_MAX = 20 * 1024 * 1024
FETCH_TIMEOUT_S = 10
MP = 1024 * 1024
FOUR_MP = 4 * MP
# Set to {} by bfl.make_app; submit() stores the last request's input descriptors under "last".
LAST: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("bfl_last_inputs", dict)


def last_inputs(app: web.Application) -> dict[str, Any]:
    """``inputs.describe`` of each image field of the last submit (the Fill mask with ``edit_share``)."""
    return app[LAST].get("last", {})


def err(kind: str, loc: list[Any], msg: str, value: Any, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pydantic-v2 validation item, as BFL's FastAPI answers them."""
    item = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


def check_int(errors: list[dict[str, Any]], name: str, value: Any) -> int | None:
    # pydantic lax mode: integral floats pass, bools/strings/fractions do not.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append(err("int_type", ["body", name], "Input should be a valid integer", value))
        return None
    if isinstance(value, float) and not value.is_integer():
        errors.append(err("int_from_float", ["body", name],
                          "Input should be a valid integer, got a number with a fractional part", value))
        return None
    return int(value)


def check_range(errors: list[dict[str, Any]], name: str, value: float, lo: float, hi: float) -> None:
    if value < lo:
        errors.append(err("greater_than_equal", ["body", name], f"Input should be greater than or equal "
                          f"to {lo:g}", value, {"ge": lo}))
    elif value > hi:
        errors.append(err("less_than_equal", ["body", name], f"Input should be less than or equal to "
                          f"{hi:g}", value, {"le": hi}))


def image_fields(model: str) -> tuple[str, ...]:
    if model.startswith("flux-kontext"):
        return KONTEXT_REFS
    if model == "flux-pro-1.0-fill":
        return ("image", "mask")
    return FLUX2_REFS if model.startswith("flux-2-") else ()


async def _fetch(url: str) -> bytes | str:
    try:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as r:
            if r.status != 200:
                return f"could not download the image (HTTP {r.status})"
            data = bytearray()
            async for chunk in r.content.iter_chunked(1 << 20):
                data += chunk
                if len(data) > FETCH_MAX:
                    return "the image at the URL is larger than 20 MB"
            return bytes(data)
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return "could not download the image"


Infos = dict[str, dict[str, Any]]  # image field -> inputs.describe of its bytes


async def resolve(body: Any, fields: tuple[str, ...]) -> tuple[Infos, list[dict[str, Any]]]:
    """Decode (or download) every image field present and describe it (the Fill mask with its white
    share); pydantic-style errors for the ones that fail."""
    infos: Infos = {}
    errors: list[dict[str, Any]] = []
    if not isinstance(body, dict):
        return infos, errors
    for name in fields:
        value = body.get(name)
        if value is None:
            continue
        data: bytes | str | None
        if not isinstance(value, str):
            data = "Input should be a valid string"
        elif value.startswith(("http://", "https://")):
            data = await _fetch(value)
        else:
            data = from_b64(value) or "not valid base64 image data"
        info = describe(data) if isinstance(data, bytes) else None
        if isinstance(data, bytes) and info is not None and info["type"] is not None:
            if name == "mask":
                info["edit_share"] = edit_share(data, "white")
                info["edit_box"] = edit_box(data, "white")
            infos[name] = info
            continue
        why = data if isinstance(data, str) else "not a PNG, JPEG or WebP image"
        errors.append(err("value_error", ["body", name], f"Value error, {name}: {why}",
                          value[:40] if isinstance(value, str) else value, {"error": {}}))
    return infos, errors


def _common(errors: list[dict[str, Any]], body: dict[str, Any], default_fmt: str, safety_max: int) -> dict[str, Any]:
    seed = body.get("seed")
    if seed is not None:
        seed = check_int(errors, "seed", seed)
    safety = body.get("safety_tolerance")
    if safety is not None and (value := check_int(errors, "safety_tolerance", safety)) is not None:
        check_range(errors, "safety_tolerance", value, 0, safety_max)
    fmt = body.get("output_format") or default_fmt
    if fmt not in ("jpeg", "png"):
        errors.append(err("enum", ["body", "output_format"], "Input should be 'jpeg' or 'png'", fmt,
                          {"expected": "'jpeg' or 'png'"}))
    if not isinstance(body.get("prompt_upsampling", False), bool):
        errors.append(err("bool_type", ["body", "prompt_upsampling"], "Input should be a valid boolean",
                          body["prompt_upsampling"]))
    return {"format": fmt, "seed": seed if seed is not None else secrets.randbelow(2**31)}


def kontext_size(ratio: float) -> tuple[int, int]:
    """About 1 MP at ``ratio`` (width / height), sides rounded to multiples of 32."""
    return (max(32, round(math.sqrt(MP * ratio) / 32) * 32), max(32, round(math.sqrt(MP / ratio) / 32) * 32))


def validate_kontext(body: dict[str, Any], infos: Infos) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        errors.append(err("missing", ["body", "prompt"], "Field required", body) if prompt is None else
                      err("string_type", ["body", "prompt"], "Input should be a valid string", prompt))
    job = _common(errors, body, "png", 6)
    first = infos["input_image"]["size"] if "input_image" in infos else None
    ratio = first[0] / first[1] if first else 1.0
    aspect = body.get("aspect_ratio")
    if aspect is not None:
        match = re.fullmatch(r"(\d+):(\d+)", aspect) if isinstance(aspect, str) else None
        if match is None or int(match[2]) == 0 or not 9 / 21 <= int(match[1]) / int(match[2]) <= 21 / 9:
            errors.append(err("value_error", ["body", "aspect_ratio"], "Value error, aspect_ratio must be "
                              "'W:H' between 21:9 and 9:21", aspect, {"error": {}}))
        else:
            ratio = int(match[1]) / int(match[2])
    w, h = kontext_size(ratio)
    return {**job, "prompt": prompt or "", "w": w, "h": h}, errors


def validate_fill(body: dict[str, Any], infos: Infos) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        errors.append(err("string_type", ["body", "prompt"], "Input should be a valid string", prompt))
    if body.get("image") is None:
        errors.append(err("missing", ["body", "image"], "Field required", body))
    for name, lo, hi, integer in (("steps", 15, 50, True), ("guidance", 1.5, 100, False)):
        raw = body.get(name)
        if raw is None:
            continue
        number = check_int(errors, name, raw) if integer else raw
        if not integer and (isinstance(number, bool) or not isinstance(number, (int, float))):
            errors.append(err("float_type", ["body", name], "Input should be a valid number", number))
        elif number is not None:
            check_range(errors, name, number, lo, hi)
    job = _common(errors, body, "jpeg", 6)
    size = infos.get("image")
    if size is not None:
        if "mask" in infos:
            if infos["mask"]["size"] != size["size"]:
                errors.append(err("value_error", ["body", "mask"], f"Value error, mask must have the same "
                                  f"dimensions as image ({size['size'][0]}x{size['size'][1]})",
                                  body["mask"][:40], {"error": {}}))
        elif body.get("mask") is None and not size["alpha"]:
            errors.append(err("value_error", ["body", "mask"], "Value error, mask is required when image has "
                              "no alpha channel", None, {"error": {}}))
    w, h = size["size"] if size else (1024, 1024)
    return {**job, "prompt": prompt if isinstance(prompt, str) else "", "w": w, "h": h}, errors


def check_refs(model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """FLUX.2 [klein] takes 4 references: a higher ``input_image_N`` is refused (see module docstring)."""
    if "klein" not in model:
        return []
    return [err("extra_forbidden", ["body", name], "Extra inputs are not permitted", body[name])
            for name in FLUX2_REFS[KLEIN_REFS:] if body.get(name) is not None]


def size_from_input(info: dict[str, Any]) -> tuple[int, int]:
    """FLUX.2's default output for an edit: the first input's size, on the x16 grid, at most 4 MP."""
    w, h = info["size"]
    if w * h > FOUR_MP:
        scale = math.sqrt(FOUR_MP / (w * h))
        w, h = math.floor(w * scale), math.floor(h * scale)
    return max(64, w // 16 * 16), max(64, h // 16 * 16)


def input_pixels(infos: Infos) -> int:
    return sum(math.prod(info["size"]) for name, info in infos.items() if name != "mask")
