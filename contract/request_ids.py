"""Request ids, `req_img_` + 24 base62 characters: made by whichever side sees a request first."""
from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
# Offered ids are accepted only in this shape, so logs cannot be forged through them.
REQUEST_ID = re.compile(r"req_img_[A-Za-z0-9]{16,40}")


def new_request_id() -> str:
    return "req_img_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
