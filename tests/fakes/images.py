"""Small, valid images of an exact pixel size, made with Pillow and cached by (size, format, options).

Flat colour keeps encoding cheap even at 2-4 MP, and the colour varies with the size so a test can
tell images of different sizes apart. ``transparent`` images are RGBA with alpha 0 outside a centred
rectangle (half the width and height), so a decoded PNG/WebP has real transparency. ``progressive``
gives the frames of a streamed image: a patterned picture, blurred less and less, then sharp.
"""
from __future__ import annotations

import io
import random
from functools import lru_cache

from PIL import Image, ImageFilter

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def _colour(width: int, height: int) -> tuple[int, int, int]:
    return width * 7 % 256, height * 13 % 256, (width + height) % 256


def _encode(img: Image.Image, fmt: str, quality: int | None) -> bytes:
    buf = io.BytesIO()
    # Fast settings: fidelity of pixels is irrelevant, validity and size are what tests check.
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    else:
        if fmt in ("jpeg", "jpg") and img.mode != "RGB":
            img = img.convert("RGB")
        img.save(buf, _PIL_FORMAT[fmt], quality=50 if quality is None else quality)
    return buf.getvalue()


def _punch_out(img: Image.Image) -> Image.Image:
    """RGBA copy whose alpha is 0 outside the centred rectangle of half the width and height."""
    rgba = img.convert("RGBA")
    alpha = Image.new("L", img.size, 0)
    w, h = img.size
    alpha.paste(255, (w // 4, h // 4, w - w // 4, h - h // 4))
    rgba.putalpha(alpha)
    return rgba


@lru_cache(maxsize=64)
def make_image(width: int, height: int, fmt: str = "png", detail: float = 0.0,
               transparent: bool = False, quality: int | None = None) -> bytes:
    """Encoded image bytes of exactly ``width`` x ``height`` in ``fmt`` (png, jpeg, webp).

    ``detail`` (0..1) fills that share of the rows with noise, which no encoder can shrink: a way
    to make realistic payload sizes (0.36 gives a ~1.1 MB 1024x1024 PNG, ~1.5 MB as base64).
    ``quality`` is the JPEG/WebP quality (None: 50); ``transparent`` needs png or webp.
    """
    img = Image.new("RGB", (width, height), _colour(width, height))
    rows = int(height * min(1.0, max(0.0, detail)))
    if rows:
        noise = random.Random(width * 31 + height).randbytes(width * rows * 3)
        img.paste(Image.frombytes("RGB", (width, rows), noise), (0, 0))
    return _encode(_punch_out(img) if transparent else img, fmt, quality)


@lru_cache(maxsize=16)
def progressive(width: int, height: int, fmt: str, partials: int, transparent: bool = False,
                quality: int | None = None) -> tuple[bytes, ...]:
    """``partials`` frames of one picture, each sharper than the last, then the sharp final frame.

    The picture is a 2-colour checkerboard of 32 px cells; frame i of k is Gaussian-blurred with radius
    2 ** (k - i + 1) px (3 partials: 16, 8, 4, then sharp), so edge energy grows frame by frame.
    """
    base = _colour(width, height)
    img = Image.new("RGB", (width, height), base)
    other = Image.new("RGB", (32, 32), tuple(255 - c for c in base))
    for y in range(0, height, 32):
        for x in range((y // 32) % 2 * 32, width, 64):
            img.paste(other, (x, y))
    frames = [img.filter(ImageFilter.GaussianBlur(2 ** (partials - i + 1))) for i in range(partials)]
    frames.append(img)
    return tuple(_encode(_punch_out(f) if transparent else f, fmt, quality) for f in frames)


def sharpness(data: bytes) -> float:
    """Mean edge strength of an encoded image (Pillow FIND_EDGES on grey): higher is sharper."""
    with Image.open(io.BytesIO(data)) as img:
        grey = img.convert("L")
        if img.mode in ("RGBA", "LA"):  # what a viewer shows: transparent pixels composited onto black
            grey = Image.composite(grey, Image.new("L", img.size, 0), img.getchannel("A"))
        edges = grey.filter(ImageFilter.FIND_EDGES)
        hist = edges.histogram()
    return sum(i * n for i, n in enumerate(hist)) / max(1, sum(hist))


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes; tests use it to check what a fake delivered."""
    with Image.open(io.BytesIO(data)) as img:
        return img.size
