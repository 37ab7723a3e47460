"""Input images as the fakes inspect them: type sniffing, pixel size, base64 forms, and mask coverage.

Every fake that takes images records what arrived with ``describe`` so adapter tests can assert it:
``{"bytes": int, "type": "png"|"jpeg"|"webp"|None, "size": (w, h)|None, "mode": "RGBA"|...|None,
"alpha": bool}`` (``type`` from the magic bytes, never from a filename or Content-Type; ``size`` and
``mode`` from Pillow, ``None`` when the bytes do not decode). Masks also get ``edit_share``: the share of
pixels that mark "edit here" under the provider's own convention (``EDIT_WHEN``), so a test can check that
an adapter converted OpenAI's transparent-means-edit mask into white- or black-means-edit correctly,
and ``edit_box``: the bounding box ``(left, top, right, bottom)`` of those pixels (None when there are
none), so it can check *where* the edit area is, not only how big.
"""
from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image

# Where each provider's mask says "edit here": OpenAI alpha == 0; BFL Fill and Stability white;
# Ideogram 3.0 inpaint black. Grey levels are thresholded at 128.
EDIT_WHEN = ("transparent", "white", "black")


def sniff(data: bytes) -> str | None:
    """``png`` / ``jpeg`` / ``webp`` by magic bytes, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def describe(data: bytes) -> dict[str, Any]:
    """What a test wants to know about an uploaded file (see the module docstring)."""
    info: dict[str, Any] = {"bytes": len(data), "type": sniff(data), "size": None, "mode": None, "alpha": False}
    if info["type"] is None:
        return info
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a truncated body fails here, not at open
            info.update(size=img.size, mode=img.mode, alpha=_has_alpha(img))
    except Exception:
        info["type"] = None  # right magic, unreadable body: as useless to the provider as no image
    return info


def edit_share(data: bytes, edit_when: str) -> float:
    """Share (0..1, 4 decimals) of the mask's pixels that say "edit" under ``edit_when`` (EDIT_WHEN)."""
    with Image.open(io.BytesIO(data)) as img:
        if edit_when == "transparent":
            band = img.convert("RGBA").getchannel("A")
            hits = band.histogram()[0]  # fully transparent only, as OpenAI documents ("alpha is zero")
        else:
            hist = img.convert("L").histogram()
            hits = sum(hist[128:]) if edit_when == "white" else sum(hist[:128])
        return round(hits / (img.width * img.height), 4)


def edit_box(data: bytes, edit_when: str) -> tuple[int, int, int, int] | None:
    """Bounding box of the mask's "edit" pixels under ``edit_when`` (same thresholds as edit_share)."""
    with Image.open(io.BytesIO(data)) as img:
        if edit_when == "transparent":
            hits = img.convert("RGBA").getchannel("A").point(lambda a: 255 if a == 0 else 0)
        else:
            grey = img.convert("L")
            hits = grey.point(lambda v: 255 if (v >= 128) == (edit_when == "white") else 0)
        return hits.getbbox()


def alpha_as_mask(data: bytes) -> bytes:
    """The image's alpha channel as a white-means-edit PNG mask (transparent pixels become white)."""
    with Image.open(io.BytesIO(data)) as img:
        alpha = img.convert("RGBA").getchannel("A")
    mask = alpha.point(lambda a: 255 if a < 128 else 0)
    buf = io.BytesIO()
    mask.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def from_b64(value: str) -> bytes | None:
    """Bytes of raw base64 or a ``data:<mime>;base64,`` URL; None if it is neither."""
    if value.startswith("data:"):
        head, _, value = value.partition(",")
        if not head.endswith(";base64"):
            return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
