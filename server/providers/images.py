"""Upstream bytes → a checked image: a complete PNG, JPEG or WebP within the byte and pixel caps, of the
promised size.

Every image an adapter returns passes `ImageLimits.inspect` (size cap, type from magic bytes,
confirmed by a header parser — png_header.py for PNG, Pillow's for JPEG and WebP — never from a
Content-Type header, and the pixel cap read from the header before anything is decoded) and then
`conform` (resized locally when the upstream could not make the public size itself, so perf.size
stays true). Inline base64 is measured before
it is decoded (`ImageLimits.from_base64`), so a hostile upstream cannot make us hold more than the
cap.
"""
from __future__ import annotations

import asyncio
import binascii
import io
from dataclasses import dataclass
from typing import Protocol

import pybase64
from PIL import Image, ImageOps

from server.providers.base import GeneratedImage
from server.providers.inline_base64 import Base64, text_of
from server.providers.png_header import png_size
from server.storage.mime import sniff_image_type

_PIL_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_PNG_END = b"IEND\xaeB`\x82"


class BadImage(ValueError):
    """The bytes are not an acceptable image; the message says why (for logs, not for clients)."""


@dataclass(frozen=True)
class ImageLimits:
    """The caps every upstream image is held to (PERF_DOWNLOAD_MAX_BYTES, PERF_MAX_IMAGE_PIXELS)."""

    max_bytes: int
    max_pixels: int

    @property
    def max_base64_chars(self) -> int:
        return -(-self.max_bytes // 3) * 4

    def inspect(self, data: bytes) -> GeneratedImage:
        if len(data) > self.max_bytes:
            raise BadImage(f"{len(data)} bytes is more than the cap of {self.max_bytes}")
        return inspect_image(data, self.max_pixels)

    def from_base64(self, text: Base64) -> GeneratedImage:
        # Measured before decoding: the decoded copy would be the allocation the cap is there to prevent.
        if len(text) > self.max_base64_chars + 4:  # padding and a trailing newline are harmless
            raise BadImage(f"{len(text)} base64 characters decode past the cap of {self.max_bytes} bytes")
        return self.inspect(decode_b64(text))


def inspect_image(data: bytes, max_pixels: int) -> GeneratedImage:
    mime = sniff_image_type(data)
    if mime is None:
        raise BadImage("not a PNG, JPEG or WebP image")
    if not _complete(data, mime):
        raise BadImage(f"{mime} is truncated")
    try:
        if mime == "image/png":  # the usual upstream format, read without Pillow's machinery (png_header.py)
            width, height = png_size(data)
        else:
            # Only the header is parsed here; `formats` keeps Pillow from trying any other decoder.
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[mime]]) as image:
                width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(f"unreadable {mime}: {exc}") from None
    if width < 1 or height < 1 or width * height > max_pixels:
        raise BadImage(f"{width}x{height} is outside the pixel limit of {max_pixels}")
    return GeneratedImage(data=data, mime=mime, width=width, height=height)


def _complete(data: bytes, mime: str) -> bool:
    # Cheap end-of-stream checks: a body cut off in transit still has valid magic and header.
    if mime == "image/png":
        return data.endswith(_PNG_END)
    if mime == "image/jpeg":
        return b"\xff\xd9" in data[-64:]  # EOI; encoders may append a few padding bytes
    return len(data) >= int.from_bytes(data[4:8], "little") + 8  # RIFF size


def decode_b64(text: Base64) -> bytes:
    """Base64 from a JSON body. pybase64's strict SIMD path decodes a 1.5 MB image in ~0.1 ms where
    the stdlib takes ~3 ms (design.md 6); wrapped or padded oddities fall back to its lenient path,
    which reads a lifted value (raw JSON text) as the JSON string it is first."""
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return pybase64.b64decode(text_of(text))
    except (binascii.Error, ValueError, TypeError) as exc:  # orjson's JSONDecodeError is a ValueError
        raise BadImage(f"bad base64: {exc}") from None


def encode_b64(data: bytes) -> str:
    """Base64 for a JSON body (input images sent inline): pybase64's SIMD encoder, as for decoding."""
    return pybase64.b64encode(data).decode("ascii")


async def conform(image: GeneratedImage, width: int, height: int) -> GeneratedImage:
    """`image` at exactly width x height: unchanged when it already is, else cropped to the aspect and resized."""
    if (image.width, image.height) == (width, height):
        return image
    return await asyncio.to_thread(_resize, image, width, height)


def _resize(image: GeneratedImage, width: int, height: int) -> GeneratedImage:
    with Image.open(io.BytesIO(image.data), formats=[_PIL_FORMAT[image.mime]]) as source:
        # Cover, then centre-crop: never stretch the picture to a different aspect ratio.
        fitted = ImageOps.fit(source, (width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fmt = _PIL_FORMAT[image.mime]
    if fmt == "PNG":
        fitted.save(out, fmt, compress_level=3)
    elif fmt == "JPEG":
        fitted.convert("RGB").save(out, fmt, quality=92)
    else:
        fitted.save(out, fmt, quality=92)
    return GeneratedImage(data=out.getvalue(), mime=image.mime, width=width, height=height)


_MIME_BY_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


async def converted(images: tuple[GeneratedImage, ...], output: OutputLike) -> tuple[GeneratedImage, ...]:
    """`images` in the caller's output format: unchanged where the upstream made that type already (it
    was asked to, with the compression), else re-encoded here at the requested compression."""
    wanted = _MIME_BY_FORMAT[output.format]
    if all(image.mime == wanted for image in images):
        return images
    return tuple([image if image.mime == wanted else await asyncio.to_thread(_encode, image, output.format,
                                                                             output.compression)
                  for image in images])


class OutputLike(Protocol):
    @property
    def format(self) -> str: ...

    @property
    def compression(self) -> int | None: ...


def _encode(image: GeneratedImage, fmt: str, compression: int | None) -> GeneratedImage:
    with Image.open(io.BytesIO(image.data), formats=[_PIL_FORMAT[image.mime]]) as source:
        source.load()
        out = io.BytesIO()
        # output_compression is OpenAI's 0-100 "compression level": 100 keeps the most detail.
        quality = 90 if compression is None else max(1, compression)
        if fmt == "jpeg":
            flat = source.convert("RGBA") if source.mode in ("P", "LA") else source
            if flat.mode == "RGBA":  # JPEG has no alpha: flatten onto white rather than black
                background = Image.new("RGB", flat.size, (255, 255, 255))
                background.paste(flat, mask=flat.getchannel("A"))
                flat = background
            flat.convert("RGB").save(out, "JPEG", quality=quality)
        elif fmt == "webp":
            source.save(out, "WEBP", quality=quality)
        else:
            source.save(out, "PNG", compress_level=3)
    return GeneratedImage(data=out.getvalue(), mime=_MIME_BY_FORMAT[fmt], width=image.width, height=image.height)
