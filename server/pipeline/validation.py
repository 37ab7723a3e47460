"""The checks every kind of request shares, made once for both protocols, filling in defaults (kinds.py
assembles them per kind).

Every refusal is an InvalidRequest (or NotFound for an unknown model) naming the public field in
`param`, so the gateway and gRPC clients get the same answer for the same mistake.
"""
from __future__ import annotations

import math
from typing import Any

from contract.errors import CONTROL_CHARACTERS, character_class, echo, has_control
from server.catalog import Catalog, ModelSpec
from server.catalog.sizes import MAX_CUSTOM_SIDE, MIN_CUSTOM_SIDE, deliverable_size, describe, parse_size
from server.errors import InvalidRequest, NotFound
from server.pipeline.requests import ImageRequest, OutputSpec

MAX_PROMPT_CHARS = 4000
MAX_USER_CHARS = 256
RESPONSE_FORMATS = ("url", "b64_json")
MAX_PARTIAL_IMAGES = 3
# A ceiling above any price the catalog could charge for one call; larger values (1e308 and the
# like) are mistakes, and would overflow when converted to integer micro-dollars.
MAX_COST_PER_CALL_USD = 1_000_000
# Characters that have no business in a prompt: C0/C1 controls (tab and newlines excepted) and the
# bidi embedding/override controls used to hide text ("Trojan Source", CVE-2021-42574).
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# What a prompt may not hold, searched in C (contract.errors.character_class; checked against the
# per-character rule over every code point by tests/server/test_prompt_controls.py).
_REFUSED_IN_PROMPT = character_class(CONTROL_CHARACTERS - _ALLOWED_CONTROLS | _BIDI_CONTROLS)



def model_of(model_id: str | None, catalog: Catalog) -> ModelSpec:
    found = catalog.get(model_id or catalog.default_model)
    if found is None:
        raise NotFound(f"The model '{echo(model_id or '')}' does not exist", param="model")
    return found


def count(n: int | None, model: ModelSpec) -> int:
    n = 1 if n is None else n
    if not 1 <= n <= model.max_n:
        raise InvalidRequest(f"n must be between 1 and {model.max_n} for {model.id}", param="n")
    return n


def quality_of(quality: str | None, model: ModelSpec) -> str:
    quality = model.default_quality if quality is None else quality
    if quality not in model.qualities:
        raise InvalidRequest(f"quality must be one of {_choices(model.qualities)} for {model.id}", param="quality")
    return quality


def style_of(style: str | None, model: ModelSpec) -> str | None:
    if style is not None and style not in model.styles:
        supported = f"one of {_choices(model.styles)}" if model.styles else "not supported"
        raise InvalidRequest(f"style is {supported} for {model.id}", param="style")
    return model.default_style if style is None else style


def response_format_of(response_format: str | None, model: ModelSpec) -> str:
    response_format = model.default_response_format if response_format is None else response_format
    if response_format not in RESPONSE_FORMATS:
        raise InvalidRequest(f"response_format must be one of {_choices(RESPONSE_FORMATS)}", param="response_format")
    return response_format


def user_of(user: str | None) -> str:
    user = user or ""
    if len(user) > MAX_USER_CHARS:
        raise InvalidRequest(f"user must be at most {MAX_USER_CHARS} characters", param="user")
    if has_control(user):
        # An end-user id has no business with control characters, and PostgreSQL cannot store NUL:
        # refusing them here keeps every store's ledger row writable.
        raise InvalidRequest("user must not contain control characters", param="user")
    return user


def output_of(model: ModelSpec, output_format: str | None, compression: int | None, background: str | None,
              moderation: str | None) -> OutputSpec:
    """The gpt-image output parameters, each refused (naming it) where the model cannot honour it."""
    fmt = "png" if output_format is None else output_format
    if fmt not in model.output_formats:
        raise InvalidRequest(f"output_format must be one of {_choices(model.output_formats)}", param="output_format")
    if compression is not None:
        if fmt == "png":
            raise InvalidRequest("output_compression applies to jpeg and webp only", param="output_compression")
        if not 0 <= compression <= 100:
            raise InvalidRequest("output_compression must be between 0 and 100", param="output_compression")
    background = "auto" if background is None else background
    if background not in model.backgrounds:
        raise InvalidRequest(f"background must be one of {_choices(model.backgrounds)} for {model.id}",
                             param="background")
    if background == "transparent" and fmt == "jpeg":
        raise InvalidRequest("a transparent background needs output_format png or webp", param="background")
    if moderation is not None and moderation not in model.moderation:
        supported = f"one of {_choices(model.moderation)}" if model.moderation else "not supported"
        raise InvalidRequest(f"moderation is {supported} for {model.id}", param="moderation")
    return OutputSpec(format=fmt, compression=compression, background=background, moderation=moderation)


def stream_of(streaming: bool, partial_images: int | None, n: int) -> int:
    if partial_images is not None and not streaming:
        raise InvalidRequest("partial_images needs stream: true", param="partial_images")
    if not streaming:
        return 0
    if n != 1:
        raise InvalidRequest("streaming is only supported with n=1", param="n")
    if partial_images is not None and not 0 <= partial_images <= MAX_PARTIAL_IMAGES:
        raise InvalidRequest(f"partial_images must be between 0 and {MAX_PARTIAL_IMAGES}", param="partial_images")
    return partial_images or 0


def size_of(requested: str, model: ModelSpec) -> tuple[int, int, bool]:
    """(width, height, auto): the size that will be delivered; for `auto`, the largest it may be."""
    if requested == "auto":
        if not model.size_auto:
            raise InvalidRequest(f"size auto is not supported for {model.id}", param="size")
        largest = max((parse_size(s) or (0, 0) for s in model.sizes), key=lambda wh: wh[0] * wh[1])
        return largest[0], largest[1], True
    return (*_size(requested, model), False)


def budget(valid: ImageRequest) -> ImageRequest:
    if valid.max_cost_per_call is not None:
        _within_budget(valid.max_cost_per_call, valid.estimate_micros)
    return valid


def optional(message: Any, name: str) -> Any:
    """The field's value, or None when it is absent (proto3 presence)."""
    return getattr(message, name) if message.HasField(name) else None


def prompt_of(prompt: str) -> str:
    if not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt must be at most {MAX_PROMPT_CHARS} characters", param="prompt")
    refused = _REFUSED_IN_PROMPT.search(prompt)
    if refused is not None:
        raise InvalidRequest(f"prompt contains the control character U+{ord(refused.group()):04X}", param="prompt")
    return prompt


def _size(requested: str, model: ModelSpec) -> tuple[int, int]:
    parsed = parse_size(requested)
    if parsed is not None and requested in model.sizes:
        return parsed
    custom = model.custom_sizes
    if parsed is not None and custom is not None:
        width, height = parsed
        if MIN_CUSTOM_SIDE <= min(width, height) and max(width, height) <= MAX_CUSTOM_SIDE:
            delivered = deliverable_size(custom, width, height)
            if delivered is None:
                raise InvalidRequest(f"{model.id} cannot make {width}x{height}: {describe(custom)}", param="size")
            return delivered
        raise InvalidRequest(f"custom sizes for {model.id} need both sides between {MIN_CUSTOM_SIDE} and "
                             f"{MAX_CUSTOM_SIDE}", param="size")
    allowed = _choices(model.sizes) + (" or any WxH" if custom is not None else "")
    raise InvalidRequest(f"size must be one of {allowed} for {model.id}", param="size")


def _within_budget(max_cost_usd: float, cost_micros: int) -> None:
    if not (math.isfinite(max_cost_usd) and 0 <= max_cost_usd <= MAX_COST_PER_CALL_USD):
        raise InvalidRequest(f"max_cost_per_call must be a number from 0 to {MAX_COST_PER_CALL_USD} (USD)",
                             param="max_cost_per_call")
    # Compare in micro-dollars: a budget of exactly the price must pass despite float rounding.
    if cost_micros > round(max_cost_usd * 1_000_000):
        raise InvalidRequest(f"this request costs ${cost_micros / 1_000_000:.6f}, above max_cost_per_call "
                             f"${max_cost_usd:.6f}", param="max_cost_per_call")


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(values)
