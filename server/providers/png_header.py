"""A PNG's width and height from its header chunks, checked as Pillow's PNG opener checks them.

`Image.open` builds a file object, a plugin and a chunk stream, and logs and dispatches each chunk, to
read the 8 bytes of IHDR that hold the size: ~0.1 M instructions per image, about 4 % of the server's
whole work on a small generation (`python -m bench.instructions`), and every generated image passes
here. This reads what Pillow's opener reads — every chunk before the first image data, each one's
CRC checked — and refuses what it refuses: no IHDR, a short one, a bit depth and colour type it
cannot decode, an unknown filter method, a bad checksum, a header cut off before the image data. It
is stricter where the PNG specification is (IHDR first, chunk types of letters only, no APNG frame
data before the image data) and does not read the ancillary chunks' contents (text, ICC profiles),
which nothing here uses. JPEG and WebP stay with Pillow. tests/server/test_png_header.py holds it to Pillow: whatever this accepts, Pillow
opens at the same size.
"""
from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) pairs the specification allows, all of which Pillow decodes.
DECODABLE = frozenset({(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3),
                       (8, 4), (16, 4), (8, 6), (16, 6)})
_CHUNK = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height); ValueError saying what is wrong for anything Pillow's PNG opener would refuse."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    view = memoryview(data)
    size: tuple[int, int] | None = None
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError("PNG header cut off before its image data")
        length, kind = _CHUNK.unpack_from(data, pos)
        start = pos + 8
        end = start + length
        if not kind.isalpha():
            raise ValueError(f"broken PNG chunk type {kind!r}")
        if kind == b"IDAT":  # where Pillow's opener stops too (image data's CRCs are checked when decoding)
            break
        if kind == b"fdAT":
            raise ValueError("APNG frame data before the image data")
        if end + 4 > len(data):
            raise ValueError(f"PNG chunk {kind!r} cut off")
        if zlib.crc32(view[start:end], zlib.crc32(kind)) != int.from_bytes(view[end:end + 4], "big"):
            raise ValueError(f"bad checksum in PNG chunk {kind!r}")
        if size is None:
            if kind != b"IHDR" or length < _IHDR.size:
                raise ValueError("PNG does not start with a whole IHDR chunk")
            width, height, depth, colour, _, filter_method, _ = _IHDR.unpack_from(data, start)
            if (depth, colour) not in DECODABLE:
                raise ValueError(f"PNG bit depth {depth} with colour type {colour} is not decodable")
            if filter_method:
                raise ValueError(f"unknown PNG filter method {filter_method}")
            size = (width, height)
        pos = end + 4
    if size is None:
        raise ValueError("PNG image data before its IHDR chunk")
    return size
