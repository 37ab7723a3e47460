"""Pictures for edit tests: plain images of a given size, and masks in OpenAI's convention (a PNG with
an alpha channel whose FULLY transparent pixels are the area to edit)."""
from __future__ import annotations

import io

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive, as Pillow's)


def png(width: int, height: int, colour: tuple[int, int, int] = (90, 120, 150)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def undecodable_png(width: int, height: int) -> bytes:
    """A PNG whose header and end are intact (so a header check passes) but whose pixel data is not zlib."""
    data = bytearray(png(width, height))
    at = data.index(b"IDAT")
    length = int.from_bytes(data[at - 4:at], "big")
    data[at + 4:at + 4 + length] = bytes(length)
    return bytes(data)


def openai_mask(width: int, height: int, edit: Box | None, keep_alpha: int = 255) -> bytes:
    """Opaque (alpha `keep_alpha`) everywhere but `edit`, which is fully transparent; None: nothing to edit."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, keep_alpha))
    if edit is not None:
        mask.paste((0, 0, 0, 0), edit)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


def left_half(width: int, height: int) -> Box:
    return (0, 0, width // 2, height)
