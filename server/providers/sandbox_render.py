"""Test mode's pictures: deterministic PNGs drawn locally (sandbox.py serves them).

Same job, same bytes: a gradient whose colours come from a hash of the prompt, with the prompt, the
model and a TEST IMAGE banner on it, at exactly the size the live model would deliver. An edit draws
the first input image under the banner, marked as an edit, with the mask's edit area tinted; a
transparent background gives a PNG with real alpha (the gradient fades out at the corners); partial
images are the final picture pixelated, less and less.
"""
from __future__ import annotations

import hashlib
import io
import textwrap
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps

_FONT_CACHE: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


@dataclass(frozen=True)
class Picture:
    """Everything a sandbox picture depends on (and so its cache key)."""

    prompt: str
    model: str
    width: int
    height: int
    index: int = 0
    transparent: bool = False
    # An edit: the first input image and the mask (OpenAI's convention: alpha 0 = edit), as bytes.
    source: bytes | None = None
    mask: bytes | None = None


def render_png(prompt: str, model: str, width: int, height: int, index: int = 0) -> bytes:
    """The sandbox image for one (prompt, model, size, index); pure and deterministic."""
    return render(Picture(prompt, model, width, height, index))


def render(picture: Picture) -> bytes:
    image = _canvas(picture)
    if picture.source is not None:
        _draw_edit(image, picture.source, picture.mask)
    _draw_labels(image, picture.prompt, picture.model, picture.index, edited=picture.source is not None)
    if picture.transparent:
        image = _with_alpha(image)
    out = io.BytesIO()
    # Level 1: test images need to be cheap to make, not small.
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def pixelated(png: bytes, step: int, of: int) -> bytes:
    """Partial image `step` of `of` (0-based): the final picture at a coarser resolution, sharper each step."""
    with Image.open(io.BytesIO(png)) as final:
        final.load()
        factor = 2 ** (of - step + 2)  # 16x, 8x, 4x coarser for three partials
        small = final.resize((max(1, final.width // factor), max(1, final.height // factor)), Image.Resampling.BILINEAR)
        coarse = small.resize(final.size, Image.Resampling.NEAREST)
    out = io.BytesIO()
    coarse.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _canvas(picture: Picture) -> Image.Image:
    prompt, model, width, height, index = picture.prompt, picture.model, picture.width, picture.height, picture.index
    digest = hashlib.sha256(f"{model}\0{prompt}\0{index}".encode()).digest()
    start = digest[0:3]
    end = bytes(255 - c for c in start)  # the complement keeps the gradient visible for any hash
    # One column (or row) of colours stretched to size: far cheaper than per-pixel work.
    vertical = digest[6] % 2 == 0
    steps = height if vertical else width
    line = bytearray()
    for i in range(steps):
        t = i / max(1, steps - 1)
        line += bytes(round(a + (b - a) * t) for a, b in zip(start, end))
    strip = Image.frombytes("RGB", (1, steps) if vertical else (steps, 1), bytes(line))
    return strip.resize((width, height), Image.Resampling.NEAREST)


def _draw_edit(image: Image.Image, source: bytes, mask: bytes | None) -> None:
    """The input image, fitted under the banner area, with the mask's edit region tinted magenta."""
    with Image.open(io.BytesIO(source)) as src:
        fitted = ImageOps.fit(src.convert("RGB"), image.size, Image.Resampling.BILINEAR)
    if mask is not None:
        with Image.open(io.BytesIO(mask)) as m:
            alpha = m.convert("RGBA").getchannel("A").resize(image.size, Image.Resampling.NEAREST)
        edit = alpha.point(lambda a: 140 if a == 0 else 0)  # transparent = edit
        tint = Image.new("RGB", image.size, (255, 0, 200))
        fitted = Image.composite(tint, fitted, edit)
    image.paste(fitted)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=(255, 0, 200), width=max(2, image.width // 128))


def _with_alpha(image: Image.Image) -> Image.Image:
    """Transparent towards the corners, opaque in the middle: real alpha a test can decode and see."""
    width, height = image.size
    gradient = Image.radial_gradient("L").resize((width, height))  # 0 in the centre, 255 at the edge
    alpha = gradient.point(lambda v: 255 if v < 128 else max(0, 255 - (v - 128) * 3))  # 0 at the corners
    rgba = image.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def _draw_labels(image: Image.Image, prompt: str, model: str, index: int, edited: bool = False) -> None:
    width, height = image.size
    draw = ImageDraw.Draw(image)
    size = max(10, min(width, height) // 24)
    font = _font(size)
    banner = max(size * 2, height // 10)
    draw.rectangle((0, 0, width, banner), fill=(0, 0, 0))
    label = f"TEST IMAGE · {'EDIT · ' if edited else ''}{model} · #{index + 1}"
    draw.text((size // 2, (banner - size) // 2), label, fill=(255, 220, 0), font=font)
    chars_per_line = max(8, int(width / (size * 0.6)))
    lines = textwrap.wrap(prompt, chars_per_line)[: max(1, (height - banner) // (size + 4) - 1)]
    y = banner + size // 2
    for line in lines:
        draw.text((size // 2, y), line, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
        y += size + 4


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    font = _FONT_CACHE.get(size)
    if font is None:
        font = _FONT_CACHE[size] = ImageFont.load_default(size=size)
    return font
