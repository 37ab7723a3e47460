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


def deliverable_size(custom: CustomSizes, width: int, height: int) -> tuple[int, int]:
    """The size the upstream produces for a requested `width` x `height`."""
    if custom.kind == "grid":
        return _on_grid(custom, width, height)
    wanted = math.log(width / height)
    # Ties go to the larger image, then to the first listed, so the answer is stable.
    return min(custom.deliverable,
               key=lambda s: (round(abs(math.log(s[0] / s[1]) - wanted), 9), -s[0] * s[1]))


def _on_grid(custom: CustomSizes, width: int, height: int) -> tuple[int, int]:
    # Scale the whole request into range first so the aspect ratio survives, then snap each side.
    scale = 1.0
    if max(width, height) > custom.max_side:
        scale = custom.max_side / max(width, height)
    if min(width, height) * scale < custom.min_side:
        scale = custom.min_side / min(width, height)

    def snap(side: float) -> int:
        snapped = round(side / custom.step) * custom.step
        return min(custom.max_side, max(custom.min_side, snapped))

    return snap(width * scale), snap(height * scale)
