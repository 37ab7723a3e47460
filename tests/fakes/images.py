"""Small, valid images of an exact pixel size, made with Pillow and cached by (size, format).

Flat colour keeps encoding cheap even at 2-4 MP, and the colour varies with the size so a test can
tell images of different sizes apart.
"""
from __future__ import annotations

import io
import random
from functools import lru_cache

from PIL import Image

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


@lru_cache(maxsize=64)
def make_image(width: int, height: int, fmt: str = "png", detail: float = 0.0) -> bytes:
    """Encoded image bytes of exactly ``width`` x ``height`` in ``fmt`` (png, jpeg, webp).

    ``detail`` (0..1) fills that share of the rows with noise, which no encoder can shrink: a way
    to make realistic payload sizes (0.36 gives a ~1.1 MB 1024x1024 PNG, ~1.5 MB as base64).
    """
    colour = (width * 7 % 256, height * 13 % 256, (width + height) % 256)
    img = Image.new("RGB", (width, height), colour)
    rows = int(height * min(1.0, max(0.0, detail)))
    if rows:
        noise = random.Random(width * 31 + height).randbytes(width * rows * 3)
        img.paste(Image.frombytes("RGB", (width, rows), noise), (0, 0))
    buf = io.BytesIO()
    # Fast settings: fidelity of pixels is irrelevant, validity and size are what tests check.
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    else:
        img.save(buf, _PIL_FORMAT[fmt], quality=50)
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes; tests use it to check what a fake delivered."""
    with Image.open(io.BytesIO(data)) as img:
        return img.size
