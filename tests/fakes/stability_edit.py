"""Fake Stability AI ``POST /v2beta/stable-image/edit/inpaint`` (multipart), added to stability.py's app.

Auth, multipart-only rule, ``Accept`` handling, error body ``{"id", "name", "errors": [...]}``, knobs and
moderation are those of the generate endpoint: ``Accept: image/*`` answers the raw image with
``finish-reason`` (SUCCESS | CONTENT_FILTERED) and ``seed`` headers, ``Accept: application/json`` answers
``{"image": <base64>, "finish_reason", "seed"}``; input moderation is 403 ``content_moderation`` (not
charged), output moderation a 200 with CONTENT_FILTERED (charged).

Fields: ``image`` (file, required: PNG, JPEG or WebP by sniffing; every side at least 64 px; 4,096 to
9,437,184 pixels; aspect ratio between 1:2.5 and 2.5:1), ``prompt`` (required, 1..10000 chars), ``mask``
(file, optional: grey levels, **white = inpaint, black = keep**, thresholded at 128; a mask of another
size is stretched to the image's; without it the image's alpha channel is the mask, transparent =
inpaint, and an image with neither is 400 ``mask: required when the image has no alpha channel``),
``negative_prompt`` (at most 10000 chars), ``grow_mask`` 0..20 (default 5), ``seed`` 0..4294967294 (0 or
absent = random, the chosen seed is reported), ``output_format`` png | jpeg | webp (default png),
``style_preset`` (the generate endpoint's list). Errors name the field: ``["grow_mask: must be between
0 and 20"]``.

The output has the input image's pixel size. Price: 5 credits ($0.05) per call (Stability's edit price
list, 2025-08-01). ``Seen.body`` holds the text fields and, per file, ``inputs.describe`` of it (the
mask's also with ``edit_share``, the share of white pixels, and ``edit_box``, their bounding box).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from .inputs import describe, edit_box, edit_share

PATH = "/v2beta/stable-image/edit/inpaint"
MODEL = "inpaint"  # the name charges are logged under (the endpoint has no model field)
CREDITS = 5.0
MIN_SIDE, MIN_PIXELS, MAX_PIXELS, MAX_RATIO = 64, 4096, 9_437_184, 2.5


def seen_files(files: dict[str, bytes]) -> dict[str, Any]:
    """What Seen.body records for the file parts: their descriptors, the mask's white share too."""
    out: dict[str, Any] = {name: describe(data) for name, data in files.items()}
    if "mask" in files and out["mask"]["type"] is not None:
        out["mask"]["edit_share"] = edit_share(files["mask"], "white")
        out["mask"]["edit_box"] = edit_box(files["mask"], "white")
    return out


def validate(fields: dict[str, Any], files: dict[str, bytes], bad: Callable[[str], Exception],
             number: Callable[..., float], style_presets: set[str], seed_max: int) -> dict[str, Any]:
    """Inpaint rules (module docstring); ``bad``/``number``/... are stability.py's shared helpers."""
    if "image" not in files:
        raise bad("image: is required")
    info = describe(files["image"])
    if info["type"] is None:
        raise bad("image: must be a valid PNG, JPEG or WebP image")
    w, h = info["size"]
    if min(w, h) < MIN_SIDE:
        raise bad(f"image: every side must be at least {MIN_SIDE} pixels")
    if not MIN_PIXELS <= w * h <= MAX_PIXELS:
        raise bad(f"image: total pixel count must be between {MIN_PIXELS} and {MAX_PIXELS}")
    if max(w, h) > MAX_RATIO * min(w, h):
        raise bad("image: aspect ratio must be between 1:2.5 and 2.5:1")
    if "mask" in files:
        if describe(files["mask"])["type"] is None:
            raise bad("mask: must be a valid PNG, JPEG or WebP image")
    elif not info["alpha"]:
        raise bad("mask: required when the image has no alpha channel")
    prompt = fields.get("prompt", "")
    if not prompt:
        raise bad("prompt: is required")
    if len(prompt) > 10000:
        raise bad("prompt: must be at most 10000 characters")
    if len(fields.get("negative_prompt", "")) > 10000:
        raise bad("negative_prompt: must be at most 10000 characters")
    number(fields, "grow_mask", 0, 20, 5, integer=True)
    seed = int(number(fields, "seed", 0, seed_max, 0, integer=True)) or secrets.randbelow(seed_max) + 1
    fmt = fields.get("output_format", "png")
    if fmt not in ("png", "jpeg", "webp"):
        raise bad("output_format: must be one of png, jpeg, webp")
    preset = fields.get("style_preset")
    if preset is not None and preset not in style_presets:
        raise bad(f"style_preset: must be one of {', '.join(sorted(style_presets))}")
    return {"model": MODEL, "credits": CREDITS, "format": fmt, "seed": seed, "w": w, "h": h}
