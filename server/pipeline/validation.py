"""Checks a generation request against the catalog once, for both protocols, and fills in defaults.

Every refusal is an InvalidRequest (or NotFound for an unknown model) naming the public field in
`param`, so the gateway and gRPC clients get the same answer for the same mistake.
"""
from __future__ import annotations

import math
import unicodedata

from contract.errors import echo
from perf.images.v1 import image_service_pb2 as pb
from server.catalog import Catalog, ModelSpec
from server.catalog.sizes import MAX_CUSTOM_SIDE, MIN_CUSTOM_SIDE, deliverable_size, describe, parse_size
from server.errors import InvalidRequest, NotFound
from server.pipeline.requests import GENERATION, ImageRequest

MAX_PROMPT_CHARS = 4000
MAX_USER_CHARS = 256
RESPONSE_FORMATS = ("url", "b64_json")
# A ceiling above any price the catalog could charge for one call; larger values (1e308 and the
# like) are mistakes, and would overflow when converted to integer micro-dollars.
MAX_COST_PER_CALL_USD = 1_000_000
# Characters that have no business in a prompt: C0/C1 controls (tab and newlines excepted) and the
# bidi embedding/override controls used to hide text ("Trojan Source", CVE-2021-42574).
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}



def validate(request: pb.GenerateImagesRequest, catalog: Catalog) -> ImageRequest:
    prompt = _prompt(request.prompt)
    model_id = request.model if request.HasField("model") else catalog.default_model
    model = catalog.get(model_id)
    if model is None:
        raise NotFound(f"The model '{echo(model_id)}' does not exist", param="model")
    n = request.n if request.HasField("n") else 1
    if not 1 <= n <= model.max_n:
        raise InvalidRequest(f"n must be between 1 and {model.max_n} for {model.id}", param="n")
    requested = request.size if request.HasField("size") else "1024x1024"
    width, height = _size(requested, model)
    quality = request.quality if request.HasField("quality") else model.default_quality
    if quality not in model.qualities:
        raise InvalidRequest(f"quality must be one of {_choices(model.qualities)} for {model.id}",
                             param="quality")
    style = request.style if request.HasField("style") else model.default_style
    if request.HasField("style") and request.style not in model.styles:
        supported = f"one of {_choices(model.styles)}" if model.styles else "not supported"
        raise InvalidRequest(f"style is {supported} for {model.id}", param="style")
    response_format = request.response_format if request.HasField("response_format") else "url"
    if response_format not in RESPONSE_FORMATS:
        raise InvalidRequest(f"response_format must be one of {_choices(RESPONSE_FORMATS)}",
                             param="response_format")
    user = request.user if request.HasField("user") else ""
    if len(user) > MAX_USER_CHARS:
        raise InvalidRequest(f"user must be at most {MAX_USER_CHARS} characters", param="user")
    if any(unicodedata.category(char) == "Cc" for char in user):
        # An end-user id has no business with control characters, and PostgreSQL cannot store NUL:
        # refusing them here keeps every store's ledger row writable.
        raise InvalidRequest("user must not contain control characters", param="user")
    max_cost = request.max_cost_per_call if request.HasField("max_cost_per_call") else None
    valid = ImageRequest(kind=GENERATION, prompt=prompt, model=model, n=n, requested_size=requested, width=width,
                         height=height, quality=quality, style=style, response_format=response_format, user=user,
                         max_cost_per_call=max_cost)
    if max_cost is not None:
        _within_budget(max_cost, valid.estimate_micros)
    return valid


def _prompt(prompt: str) -> str:
    if not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt must be at most {MAX_PROMPT_CHARS} characters", param="prompt")
    for char in prompt:
        if char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS):
            raise InvalidRequest(f"prompt contains the control character U+{ord(char):04X}", param="prompt")
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
