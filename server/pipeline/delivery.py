"""Hands generated images to the caller: stored behind our signed URLs, or inline as base64."""
from __future__ import annotations

import asyncio
import time

import pybase64

from perf.images.v1 import image_service_pb2 as pb
from server.providers.base import GeneratedImage
from server.storage.local import LocalImageStore
from server.storage.signing import UrlSigner

# Writing into the page cache is fast; below ~1 MB the thread hop costs more than the write.
INLINE_WRITE_BYTES = 1024 * 1024


class Delivery:
    def __init__(self, images: LocalImageStore, signer: UrlSigner) -> None:
        self._images = images
        self._signer = signer

    async def deliver(self, images: tuple[GeneratedImage, ...], response_format: str,
                      revised_prompt: str) -> list[pb.Image]:
        if response_format == "b64_json":
            # Encoding is pure CPU on bytes already in memory; small images are cheaper inline than a thread hop.
            return [pb.Image(b64_json=pybase64.b64encode(image.data).decode("ascii"), revised_prompt=revised_prompt)
                    for image in images]

        def store_all() -> list[tuple[str, str]]:
            return [self._images.put(image.data) for image in images]

        total = sum(len(image.data) for image in images)
        stored = store_all() if total <= INLINE_WRITE_BYTES else await asyncio.to_thread(store_all)
        now = time.time()
        return [pb.Image(url=self._signer.url(image_id, ext, now), revised_prompt=revised_prompt)
                for image_id, ext in stored]
