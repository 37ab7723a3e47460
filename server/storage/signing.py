"""HMAC-signed, expiring image URLs.

The path carries everything needed to check it: /v1/images/{image_id}/{expires}/{signature}.{ext}.
The signature covers a canonical message (version, method, id, extension, expiry) so no field can be
moved into another. Verification order: the shape of every part (contract/image_urls.py; anything
but the one spelling we issue is not found, before any HMAC work), then recompute and compare in
constant time, then expiry, then the cap on remaining lifetime (a signing bug must not mint
long-lived links).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from contract.image_urls import well_formed
from server.errors import NotFound, PermissionDenied


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
        """Raise NotFound for a malformed or expired URL, PermissionDenied for a forged or altered one."""
        if not well_formed(image_id, expires, signature, ext):
            raise NotFound("no such image")
        if not hmac.compare_digest(self._sign(image_id, ext, expires), signature):
            raise PermissionDenied("the image URL signature is invalid")
        if expires <= now:
            raise NotFound("the image URL has expired")
        if expires - now > self._ttl_s + 1:
            raise PermissionDenied("the image URL signature is invalid")

    def _sign(self, image_id: str, ext: str, expires: int) -> str:
        message = f"v1\nGET\n{image_id}\n{ext}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
