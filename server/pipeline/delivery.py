"""Hands generated images to the caller: stored behind URLs (ours or the store's), or inline as raw bytes
(the gateway base64-encodes them for `b64_json`; gRPC callers get the bytes).

Storing happens before the request is settled and billed (pipeline.py), so an image store that does
not answer fails the request with 503 provider_unavailable and nothing is charged.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, NamedTuple

from server.providers.base import GeneratedImage
from server.runtime.outages import backend
from server.storage.base import ImageStore
from server.storage.mime import sniff_image_type
from server.storage.urls import ImageUrls


class Delivered(NamedTuple):
    """One image as the response will carry it: a URL, or its bytes inline. Not yet a pb.Image, so
    its bytes are copied into the response message once (responses.response) rather than twice."""
    url: str
    data: bytes
    revised_prompt: str


class Delivery:
    def __init__(self, images: ImageStore, urls: ImageUrls) -> None:
        self._images = images
        self._urls = urls

    async def deliver(self, images: tuple[GeneratedImage, ...], response_format: str,
                      revised_prompt: str) -> list[Delivered]:
        if response_format == "b64_json":
            return [Delivered("", image.data, revised_prompt) for image in images]
        with backend("image store"):
            if len(images) == 1:  # the common case, without tasks
                stored = [await self._store(images[0])]
            else:
                stored = await _all_or_nothing([self._store(image) for image in images])
            now = time.time()
            return [Delivered(await self._urls.url(image_id, ext, now), b"", revised_prompt)
                    for image_id, ext in stored]

    async def _store(self, image: GeneratedImage) -> tuple[str, str]:
        # The stored type comes from the bytes themselves, never from what an upstream claimed.
        mime = sniff_image_type(image.data)
        if mime is None:
            raise ValueError("refusing to store bytes that are not a PNG, JPEG or WebP image")
        return await self._images.put(image.data, mime)


async def _all_or_nothing(work: list[Coroutine[Any, Any, tuple[str, str]]]) -> list[tuple[str, str]]:
    """Concurrent uploads (one round trip to a remote store each, not n in a row); the first failure
    cancels the rest and is raised as itself (not an ExceptionGroup), so outages.backend can map it."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
