"""Fake Ideogram 3.0 ``POST /v1/ideogram-v3/inpaint`` (multipart), added to ideogram.py's app.

Auth (``Api-Key``), the multipart-only rule, error body ``{"error": <message>}``, knobs, the response
``{"created": <ISO-8601>, "data": [{url, prompt, resolution, is_image_safe, seed, style_type}]}`` and
moderation (input: 422, not charged; output: ``is_image_safe: false`` with ``url: null``, charged) are
those of ``/v1/ideogram-v3/generate``.

Fields: ``image`` (file, required: PNG, JPEG or WebP by sniffing, at most 25 MB), ``mask`` (file, at most 25 MB,
required: same pixel size as the image; **black = edit, white = keep**, greys thresholded at 128, and it
must contain some black), ``prompt`` (required), ``magic_prompt`` AUTO | ON | OFF, ``num_images`` 1..8,
``seed`` 0..2147483647, ``rendering_speed`` FLASH | TURBO | DEFAULT | QUALITY (default DEFAULT),
``style_type`` AUTO | GENERAL | REALISTIC | DESIGN | FICTION (default GENERAL), ``color_palette`` (JSON
text), ``style_codes``, ``style_reference_images`` (files, counted only). Missing or bad fields are 400
``{"error": "..."}``.

Every output image has the input image's size (``resolution``). Price per output image as 3.0 generate
by ``rendering_speed`` (ideogram.PRICES ``V_3_<speed>``: FLASH/TURBO $0.03, DEFAULT $0.06, QUALITY
$0.09; Ideogram prices Edit like Generate). ``Seen.body`` holds the text fields (lists, as for generate)
and, per file, ``inputs.describe`` of it (the mask's also with ``edit_share``, the share of black pixels,
and ``edit_box``, their bounding box).
"""
from __future__ import annotations

import json
from typing import Any

from .ideogram import MAGIC, SEED_MAX, SPEEDS, V3_STYLES, ApiError, _enum, _int, _palette
from .inputs import describe, edit_box, edit_share

PATH = "/v1/ideogram-v3/inpaint"
MAX_BYTES = 25 * 1024 * 1024


def seen_files(files: dict[str, list[bytes]]) -> dict[str, Any]:
    """Seen.body entries for the file parts: descriptors per part (the mask's with its black share)."""
    out: dict[str, Any] = {name: [describe(data) for data in parts] for name, parts in files.items()}
    for info, data in zip(out.get("mask", []), files.get("mask", [])):
        if info["type"] is not None:
            info["edit_share"] = edit_share(data, "black")
            info["edit_box"] = edit_box(data, "black")
    return out


def validate(form: dict[str, list[str]], files: dict[str, list[bytes]]) -> dict[str, Any]:
    """Inpaint rules (module docstring) -> the job ideogram.py's shared tail answers."""
    one = {k: v[-1] for k, v in form.items()}
    for name in ("image", "mask"):
        if name not in files:
            raise ApiError(400, f"Missing required field: {name}.")
        if len(files[name][-1]) > MAX_BYTES:
            raise ApiError(400, f"Invalid {name}: the file must be at most 25 MB.")
    image, mask = describe(files["image"][-1]), describe(files["mask"][-1])
    if image["type"] is None:
        raise ApiError(400, "Invalid image: must be a JPEG, PNG or WebP image.")
    if mask["type"] is None:
        raise ApiError(400, "Invalid mask: must be a JPEG, PNG or WebP image.")
    if mask["size"] != image["size"]:
        raise ApiError(400, f"Invalid mask: must have the same dimensions as the image "
                       f"({image['size'][0]}x{image['size'][1]}), got {mask['size'][0]}x{mask['size'][1]}.")
    if edit_share(files["mask"][-1], "black") == 0:
        raise ApiError(400, "Invalid mask: it has no black region to edit.")
    if not one.get("prompt"):
        raise ApiError(400, "Missing required field: prompt.")
    if "color_palette" in one:
        try:
            _palette(json.loads(one["color_palette"]))
        except ValueError:
            raise ApiError(400, "Invalid color_palette: not valid JSON.") from None
    if "style_codes" in form and "style_type" in one:
        raise ApiError(400, "style_codes and style_type are mutually exclusive.")
    speed = _enum("rendering_speed", one.get("rendering_speed", "DEFAULT"), SPEEDS)
    w, h = image["size"]
    return {"model": f"V_3_{speed}", "prompt": one["prompt"], "w": w, "h": h,
            "magic": _enum("magic_prompt", one.get("magic_prompt", "AUTO"), MAGIC),
            "style_type": _enum("style_type", one.get("style_type", "GENERAL"), V3_STYLES),
            "n": _int("num_images", one.get("num_images", 1), 1, 8),
            "seed": _int("seed", one["seed"], 0, SEED_MAX) if "seed" in one else None}
