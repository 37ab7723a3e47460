"""The one spelling of a signed image URL path, shared by the gateway (HTTP) and the server (gRPC).

    /v1/images/{image_id}/{expires}/{signature}.{ext}

Each part has exactly one textual form, so one image has exactly one URL: a leading zero, a
percent-encoded or non-ASCII digit (`int()` reads '٣' and '３' as 3), a query string or any other
variant is not that URL and is refused as not found before any signature work. The patterns name ASCII ranges
explicitly because `\\d` and `str.isdigit()` accept Unicode digits.
"""
from __future__ import annotations

import re

IMAGE_ID = re.compile(r"img_[0-9a-f]{32}")
# Unix seconds, canonical decimal: no sign, no leading zero, at most 12 digits (year 33658).
EXPIRES = re.compile(r"[1-9][0-9]{0,11}")
# base64url of an HMAC-SHA256 digest, unpadded.
SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
EXTENSION = re.compile(r"[a-z]{3,4}")
PATH = re.compile(rf"/v1/images/(?P<image_id>{IMAGE_ID.pattern})/(?P<expires>{EXPIRES.pattern})/"
                  rf"(?P<signature>{SIGNATURE.pattern})\.(?P<ext>{EXTENSION.pattern})")


def well_formed(image_id: str, expires: int, signature: str, ext: str) -> bool:
    """True when the parts could have come from a URL we issued (says nothing about the signature)."""
    return bool(IMAGE_ID.fullmatch(image_id) and EXPIRES.fullmatch(str(expires))
                and SIGNATURE.fullmatch(signature) and EXTENSION.fullmatch(ext))
