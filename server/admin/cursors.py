"""Opaque page cursors: the (time, id) a page ended on, tagged with what was listed.

A cursor is a position, not a credential; tampering only moves the position. Anything that does not
decode to the listing's own tag is `invalid_request` naming `cursor`, never a 500.
"""
from __future__ import annotations

import base64
import binascii
import re

from server.errors import InvalidRequest

_BODY = re.compile(r"(?P<tag>[a-z]+)1:(?P<at>0|[1-9][0-9]{0,11}):(?P<id>[A-Za-z0-9_]{1,64})")


def encode_cursor(tag: str, at: int, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{tag}1:{at}:{row_id}".encode()).rstrip(b"=").decode()


def decode_cursor(tag: str, cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _BODY.fullmatch(raw) if len(cursor) <= 200 else None
    if match is None or match["tag"] != tag:
        raise InvalidRequest("cursor is not a next_cursor this listing returned", param="cursor")
    return int(match["at"]), match["id"]


def page_limit(requested: int, default: int, maximum: int) -> int:
    if requested == 0:
        return default
    if not 1 <= requested <= maximum:
        raise InvalidRequest(f"limit must be between 1 and {maximum}", param="limit")
    return requested
