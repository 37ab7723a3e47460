"""Which URL a stored image is handed out at: ours (HMAC-signed, served by the gateway) or the store's own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from server.storage.signing import UrlSigner

if TYPE_CHECKING:  # the AWS SDK is imported only where an S3 store is configured
    from server.storage.s3 import S3ImageStore


class ImageUrls(Protocol):
    async def url(self, image_id: str, ext: str, now: float) -> str: ...


class SignedUrls:
    """/v1/images/<id>/<expiry>/<signature>.<ext> on PERF_PUBLIC_URL (server/storage/signing.py)."""

    def __init__(self, signer: UrlSigner) -> None:
        self._signer = signer

    async def url(self, image_id: str, ext: str, now: float) -> str:
        return self._signer.url(image_id, ext, now)


class PresignedUrls:
    """The bucket's own presigned GET URLs, for operators serving images through a CDN or the store itself.

    Same lifetime as ours; they cannot be revoked early and the gateway never sees the traffic."""

    def __init__(self, store: S3ImageStore, ttl_s: int) -> None:
        self._store = store
        self._ttl_s = ttl_s

    async def url(self, image_id: str, ext: str, now: float) -> str:
        return await self._store.presigned_url(image_id, ext, self._ttl_s)
