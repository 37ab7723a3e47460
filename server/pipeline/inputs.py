"""Checks the images a caller sends to edit or vary: their type from the bytes, their size from the header.

Nothing is decoded here: the type comes from the magic bytes (never a filename or part Content-Type,
which the SDKs fill with `upload` and `application/octet-stream`), the pixel size and alpha from the
header, each against the caps. The mask must be a PNG with an alpha channel the size of the first
image: fully transparent pixels mark the area to edit, as OpenAI defines it.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from server.errors import InvalidRequest
from server.providers.base import GeneratedImage
from server.providers.images import BadImage, inspect_image

MIB = 1024 * 1024
MAX_IMAGES = 16  # OpenAI's limit for image[], and more than any upstream here takes


@dataclass(frozen=True)
class InputLimits:
    """PERF_MAX_UPLOAD_FILE_BYTES, PERF_MAX_UPLOAD_BYTES and PERF_MAX_IMAGE_PIXELS."""

    max_file_bytes: int = 25 * MIB
    max_total_bytes: int = 64 * MIB
    max_pixels: int = 25_000_000


def input_images(raws: Sequence[bytes], limits: InputLimits, param: str = "image") -> tuple[GeneratedImage, ...]:
    if not raws:
        raise InvalidRequest(f"{param} is required: one PNG, JPEG or WebP image, or several as image[]", param=param)
    if len(raws) > MAX_IMAGES:
        raise InvalidRequest(f"at most {MAX_IMAGES} images may be sent", param=param)
    if sum(len(raw) for raw in raws) > limits.max_total_bytes:
        raise InvalidRequest(f"the images are more than {limits.max_total_bytes} bytes together", param=param)
    return tuple(_one(raw, index, limits, param) for index, raw in enumerate(raws, 1))


def _one(raw: bytes, index: int, limits: InputLimits, param: str) -> GeneratedImage:
    if len(raw) > limits.max_file_bytes:
        raise InvalidRequest(f"image {index} is more than {limits.max_file_bytes} bytes", param=param)
    try:
        return inspect_image(raw, limits.max_pixels)
    except BadImage:
        raise InvalidRequest(f"image {index} is not a complete PNG, JPEG or WebP image within "
                             f"{limits.max_pixels:,} pixels", param=param) from None


def mask_image(raw: bytes, first: GeneratedImage, limits: InputLimits) -> GeneratedImage:
    mask = _one(raw, 1, limits, "mask")
    if mask.mime != "image/png" or not _has_alpha(raw):
        raise InvalidRequest("mask must be a PNG with an alpha channel (fully transparent pixels mark the edit)",
                             param="mask")
    if (mask.width, mask.height) != (first.width, first.height):
        raise InvalidRequest(f"mask is {mask.width}x{mask.height}, but the first image is "
                             f"{first.width}x{first.height}; they must be the same size", param="mask")
    return mask


def _has_alpha(png: bytes) -> bool:
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:  # the header only
        return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
