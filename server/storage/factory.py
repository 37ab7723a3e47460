"""Opens the configured image store and the kind of URL its images are handed out at."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from server.storage.base import ImageStore
from server.storage.local import LocalImageStore
from server.storage.settings import StorageSettings
from server.storage.signing import UrlSigner
from server.storage.urls import ImageUrls, PresignedUrls, SignedUrls

log = logging.getLogger("perf.server")


@dataclass(frozen=True)
class Storage:
    images: ImageStore
    urls: ImageUrls


async def open_storage(settings: StorageSettings, data_dir: Path, signer: UrlSigner) -> Storage:
    """Call inside the running loop: an S3 client is bound to it."""
    if settings.s3 is None:
        return Storage(LocalImageStore(data_dir / "images"), SignedUrls(signer))
    from server.storage.s3 import S3ImageStore  # the AWS SDK costs import time; only where it is used

    store = await S3ImageStore.connect(settings.s3)
    if settings.s3.lifecycle:
        try:
            await store.ensure_lifecycle()
        except Exception as error:  # the store being down at start is readiness's business, not a crash
            log.warning("could not check the bucket's lifecycle rule now: %r", error)
    urls = PresignedUrls(store, signer.ttl_s) if settings.urls == "presigned" else SignedUrls(signer)
    return Storage(store, urls)
