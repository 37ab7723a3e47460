"""Parsing `WxH` sizes and mapping a requested custom size to the size an upstream really delivers."""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.catalog.model import CustomSizes

_SIZE = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")
# Requests outside these bounds are refused rather than silently mapped to something unrelated.
MIN_CUSTOM_SIDE = 64
MAX_CUSTOM_SIDE = 4096


def parse_size(size: str) -> tuple[int, int] | None:
    match = _SIZE.fullmatch(size)
    return (int(match.group(1)), int(match.group(2))) if match else None


def format_size(width: int, height: int) -> str:
    return f"{width}x{height}"


def deliverable_size(custom: CustomSizes, width: int, height: int) -> tuple[int, int] | None:
    """The size the upstream produces for a requested `width` x `height`; None when it cannot make it."""
    if custom.kind == "grid":
        return _on_grid(custom, width, height)
    if custom.kind == "exact":
        return (width, height) if _exact_ok(custom, width, height) else None
    wanted, area = math.log(width / height), math.log(width * height)
    # Nearest aspect ratio first, then nearest area (a list may hold one ratio at 1K, 2K and 4K);
    # exact ties go to the larger image, then to the first listed, so the answer is stable.
    return min(custom.deliverable,
               key=lambda s: (round(abs(math.log(s[0] / s[1]) - wanted), 9), round(abs(math.log(s[0] * s[1]) - area), 9),
                              -s[0] * s[1]))


def describe(custom: CustomSizes) -> str:
    """The rule an "exact" size must meet, in words for an error message."""
    rule = f"both sides multiples of {custom.step}, between {custom.min_side} and {custom.max_side}"
    if custom.max_ratio:
        rule += f", aspect ratio within 1:{custom.max_ratio:g} and {custom.max_ratio:g}:1"
    if custom.min_pixels or custom.max_pixels:
        rule += f", {custom.min_pixels:,} to {custom.max_pixels:,} pixels"
    return rule


def _exact_ok(custom: CustomSizes, width: int, height: int) -> bool:
    """gpt-image-2's rule: sides on the step grid, bounded sides, ratio and pixel count."""
    pixels = width * height
    return (width % custom.step == 0 and height % custom.step == 0
            and custom.min_side <= min(width, height) and max(width, height) <= custom.max_side
            and (not custom.max_ratio or max(width, height) <= custom.max_ratio * min(width, height))
            and (not custom.min_pixels or pixels >= custom.min_pixels)
            and (not custom.max_pixels or pixels <= custom.max_pixels))


def _on_grid(custom: CustomSizes, width: int, height: int) -> tuple[int, int]:
    # Scale the whole request into range first so the aspect ratio survives, then snap each side.
    scale = 1.0
    if max(width, height) > custom.max_side:
        scale = custom.max_side / max(width, height)
    if custom.max_pixels and width * height * scale * scale > custom.max_pixels:
        scale = math.sqrt(custom.max_pixels / (width * height))  # FLUX.2: at most 4 MP in all
    if min(width, height) * scale < custom.min_side:
        scale = custom.min_side / min(width, height)

    def snap(side: float) -> int:
        # Down, when a pixel budget applies, so rounding cannot carry the image past it.
        steps = math.floor(side / custom.step) if custom.max_pixels else round(side / custom.step)
        return min(custom.max_side, max(custom.min_side, steps * custom.step))

    return snap(width * scale), snap(height * scale)
