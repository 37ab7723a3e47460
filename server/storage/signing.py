"""HMAC-signed, expiring image URLs.

The path carries everything needed to check it: /v1/images/{image_id}/{expires}/{signature}.{ext}.
The signature covers a canonical message (version, method, id, extension, expiry) so no field can be
moved into another. Verification order: recompute and compare in constant time, then expiry, then
the cap on remaining lifetime (a signing bug must not mint long-lived links).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from server.errors import NotFound, PermissionDenied

_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")


class UrlSigner:
    def __init__(self, key: bytes, ttl_s: int, public_url: str) -> None:
        self._key = key
        self._ttl_s = ttl_s
        self._public_url = public_url.rstrip("/")

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    def url(self, image_id: str, ext: str, now: float) -> str:
        expires = int(now) + self._ttl_s
        return f"{self._public_url}/v1/images/{image_id}/{expires}/{self._sign(image_id, ext, expires)}.{ext}"

    def verify(self, image_id: str, ext: str, expires: int, signature: str, now: float) -> None:
        """Raise PermissionDenied for a forged or altered URL, NotFound for an expired one."""
        expected = self._sign(image_id, ext, expires)
        if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(expected, signature):
            raise PermissionDenied("the image URL signature is invalid")
        if expires <= now:
            raise NotFound("the image URL has expired")
        if expires - now > self._ttl_s + 1:
            raise PermissionDenied("the image URL signature is invalid")

    def _sign(self, image_id: str, ext: str, expires: int) -> str:
        message = f"v1\nGET\n{image_id}\n{ext}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
