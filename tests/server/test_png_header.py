"""server/providers/png_header.py held to Pillow's PNG opener, which it replaces for reading a PNG's size.

The property: whatever png_size accepts, Pillow opens at the same size (so no image Pillow would
refuse gets through), and every PNG an encoder writes (each mode, text, ICC, pHYs, interlaced) is
accepted. Checked over encoder output, every bit depth and colour type pair, every single-byte
corruption of a header, and every truncation of it.
"""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from server.providers.images import BadImage, inspect_image
from server.providers.png_header import SIGNATURE, png_size


def pillow_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return image.size
    except Exception:
        return None


def ours(data: bytes) -> tuple[int, int] | None:
    try:
        return png_size(data)
    except ValueError:
        return None


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def crafted(width: int = 3, height: int = 2, depth: int = 8, colour: int = 2, interlace: int = 0,
            filter_method: int = 0, before_idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, filter_method, interlace)
    return (SIGNATURE + chunk(b"IHDR", ihdr) + before_idat + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def encoded(mode: str, size: tuple[int, int], **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG", **options)
    return out.getvalue()


def with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "a red fox")
    info.add_itxt("Comment", "renard roux", lang="fr", zip=True)
    return encoded("RGB", (5, 4), pnginfo=info, dpi=(72, 72), icc_profile=b"\0" * 128)


ENCODED = [encoded(mode, size) for mode in ("1", "L", "P", "RGB", "RGBA", "LA", "I;16")
           for size in ((1, 1), (7, 3), (64, 48))] + [with_text(), crafted(interlace=1)]


@pytest.mark.parametrize("data", ENCODED)
def test_every_encoded_png_is_read_at_pillows_size(data: bytes) -> None:
    assert pillow_size(data) is not None
    assert ours(data) == pillow_size(data)


def test_each_bit_depth_and_colour_type_pair_is_decided_as_pillow_decides() -> None:
    for depth in range(0, 33):
        for colour in range(0, 8):
            data = crafted(depth=depth, colour=colour)
            assert ours(data) == pillow_size(data), (depth, colour)


def test_an_unknown_filter_method_is_refused_as_pillow_refuses() -> None:
    data = crafted(filter_method=1)
    assert pillow_size(data) is None and ours(data) is None


@pytest.mark.parametrize("data", [with_text(), encoded("P", (9, 9))])
def test_no_corrupted_or_truncated_header_gets_past_what_pillow_would_refuse(data: bytes) -> None:
    header_end = data.index(b"IDAT") + 4
    accepted_by_us_only = []
    for at in range(header_end):
        for flip in (0x01, 0x80, 0xFF):
            broken = bytearray(data)
            broken[at] ^= flip
            mine = ours(bytes(broken))
            if mine is not None and mine != pillow_size(bytes(broken)):
                accepted_by_us_only.append((at, flip))
    for end in range(header_end):
        assert ours(data[:end]) is None, end
    assert accepted_by_us_only == []


def test_ihdr_must_come_first_and_whole() -> None:
    text = chunk(b"tEXt", b"k\0v")
    misplaced = SIGNATURE + text + crafted()[len(SIGNATURE):]
    assert ours(misplaced) is None  # the specification's rule; Pillow tolerates it
    assert ours(SIGNATURE + chunk(b"IDAT", b"") + chunk(b"IEND", b"")) is None
    frame_data_first = crafted(before_idat=chunk(b"fdAT", b"\0\0\0\1" + zlib.compress(b"\0" * 8)))
    assert ours(frame_data_first) is None  # APNG frame data belongs after the image data
    short = SIGNATURE + chunk(b"IHDR", b"\0\0\0\3\0\0\0\2\x08") + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    assert ours(short) is None and pillow_size(short) is None


def test_inspect_image_reads_a_png_through_it_and_still_applies_the_pixel_cap() -> None:
    image = inspect_image(encoded("RGB", (64, 48)), max_pixels=64 * 48)
    assert (image.mime, image.width, image.height) == ("image/png", 64, 48)
    with pytest.raises(BadImage, match="pixel limit"):
        inspect_image(encoded("RGB", (64, 48)), max_pixels=64 * 48 - 1)
    with pytest.raises(BadImage, match="bad checksum"):
        broken = bytearray(encoded("RGB", (64, 48)))
        broken[20] ^= 1  # inside IHDR's height
        inspect_image(bytes(broken), max_pixels=10**8)
