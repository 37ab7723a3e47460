"""Test mode's provider: the pictures of sandbox_render.py, never the network, for every kind of request.

It honours what live models do that a test may want to see: edits (the first input image drawn in,
the mask's area tinted), a transparent background (real alpha), and partial images when streamed
(progressively sharper, PERF_SANDBOX_LATENCY_MS spread across them). Output formats and compression
are applied by the pipeline, as for any upstream that answers in PNG.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from threading import Lock

from server.providers.base import GeneratedImage, GenerationJob, GenerationResult, PartialImage
from server.providers.sandbox_render import Picture, pixelated, render


class RenderCache:
    """A bounded LRU of rendered PNGs: rendering is deterministic, so a repeat costs nothing."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Picture, bytes] = OrderedDict()
        self._lock = Lock()  # renders run in worker threads

    def get(self, picture: Picture) -> bytes | None:
        with self._lock:
            hit = self._items.get(picture)
            if hit is not None:
                self._items.move_to_end(picture)
            return hit

    def get_or_render(self, picture: Picture) -> bytes:
        hit = self.get(picture)
        if hit is not None:
            return hit
        data = render(picture)
        with self._lock:
            if picture not in self._items and len(data) <= self._max_bytes:
                self._items[picture] = data
                self._bytes += len(data)
                while self._bytes > self._max_bytes:
                    _, evicted = self._items.popitem(last=False)
                    self._bytes -= len(evicted)
        return data


class SandboxProvider:
    name = "sandbox"

    def __init__(self, cache_bytes: int = 64 * 1024 * 1024, latency_s: float = 0.0) -> None:
        self._cache = RenderCache(cache_bytes)
        # Lets tests and benchmarks stand in for a slow upstream without a network.
        self._latency_s = latency_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        pictures = [_picture(job, i) for i in range(job.n)]
        streamed = job.on_partial is not None and job.partial_images > 0
        if self._latency_s and not streamed:
            await asyncio.sleep(self._latency_s)
        cached = [self._cache.get(picture) for picture in pictures]
        datas = [data for data in cached if data is not None]
        if len(datas) < job.n:  # only rendering needs a worker thread; a repeat skips the hop
            datas = await asyncio.to_thread(lambda: [self._cache.get_or_render(p) for p in pictures])
        if streamed:
            await self._stream_partials(job, datas[0])
        images = tuple(GeneratedImage(data=d, mime="image/png", width=job.width, height=job.height) for d in datas)
        return GenerationResult(images=images, revised_prompt=job.prompt, model_used=job.model,
                                background="transparent" if job.background == "transparent" else "opaque")

    async def _stream_partials(self, job: GenerationJob, final: bytes) -> None:
        assert job.on_partial is not None
        steps = job.partial_images
        pause = self._latency_s / (steps + 1)
        for step in range(steps):
            await asyncio.sleep(pause)
            data = await asyncio.to_thread(pixelated, final, step, steps)
            await job.on_partial(PartialImage(GeneratedImage(data, "image/png", job.width, job.height), step))
        await asyncio.sleep(pause)


def _picture(job: GenerationJob, index: int) -> Picture:
    source = job.images[0].data if job.images else None
    return Picture(prompt=job.prompt, model=job.model, width=job.width, height=job.height, index=index,
                   transparent=job.background == "transparent", source=source,
                   mask=job.mask.data if job.mask is not None else None)
