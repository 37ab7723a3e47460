"""Test mode's provider: draws a deterministic PNG locally and never touches the network.

Same job, same bytes: the picture is a gradient whose colours come from a hash of the prompt,
with the prompt, the model and a TEST IMAGE banner on it, at exactly the size the live model
would deliver.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import textwrap
from collections import OrderedDict
from threading import Lock

from PIL import Image, ImageDraw, ImageFont

from server.providers.base import GeneratedImage, GenerationJob, GenerationResult

_FONT_CACHE: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def render_png(prompt: str, model: str, width: int, height: int, index: int = 0) -> bytes:
    """The sandbox image for one (prompt, model, size, index); pure and deterministic."""
    digest = hashlib.sha256(f"{model}\0{prompt}\0{index}".encode()).digest()
    start = digest[0:3]
    end = bytes(255 - c for c in start)  # the complement keeps the gradient visible for any hash
    # One column (or row) of colours stretched to size: far cheaper than per-pixel work.
    vertical = digest[6] % 2 == 0
    steps = height if vertical else width
    line = bytearray()
    for i in range(steps):
        t = i / max(1, steps - 1)
        line += bytes(round(a + (b - a) * t) for a, b in zip(start, end))
    strip = Image.frombytes("RGB", (1, steps) if vertical else (steps, 1), bytes(line))
    image = strip.resize((width, height), Image.Resampling.NEAREST)
    _draw_labels(image, prompt, model, index)
    out = io.BytesIO()
    # Level 1: test images need to be cheap to make, not small.
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _draw_labels(image: Image.Image, prompt: str, model: str, index: int) -> None:
    width, height = image.size
    draw = ImageDraw.Draw(image)
    size = max(10, min(width, height) // 24)
    font = _font(size)
    banner = max(size * 2, height // 10)
    draw.rectangle((0, 0, width, banner), fill=(0, 0, 0))
    draw.text((size // 2, (banner - size) // 2), f"TEST IMAGE · {model} · #{index + 1}", fill=(255, 220, 0),
              font=font)
    chars_per_line = max(8, int(width / (size * 0.6)))
    lines = textwrap.wrap(prompt, chars_per_line)[: max(1, (height - banner) // (size + 4) - 1)]
    y = banner + size // 2
    for line in lines:
        draw.text((size // 2, y), line, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
        y += size + 4


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    font = _FONT_CACHE.get(size)
    if font is None:
        font = _FONT_CACHE[size] = ImageFont.load_default(size=size)
    return font


class RenderCache:
    """A bounded LRU of rendered PNGs: rendering is deterministic, so a repeat costs nothing."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[tuple[str, str, int, int, int], bytes] = OrderedDict()
        self._lock = Lock()  # renders run in worker threads

    def get(self, prompt: str, model: str, width: int, height: int, index: int) -> bytes | None:
        key = (prompt, model, width, height, index)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def get_or_render(self, prompt: str, model: str, width: int, height: int, index: int) -> bytes:
        hit = self.get(prompt, model, width, height, index)
        if hit is not None:
            return hit
        key = (prompt, model, width, height, index)
        data = render_png(prompt, model, width, height, index)
        with self._lock:
            if key not in self._items and len(data) <= self._max_bytes:
                self._items[key] = data
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
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        cached = [self._cache.get(job.prompt, job.model, job.width, job.height, i) for i in range(job.n)]
        datas = [data for data in cached if data is not None]
        if len(datas) < job.n:  # only rendering needs a worker thread; a repeat skips the hop
            datas = await asyncio.to_thread(self._render_all, job)
        images = tuple(GeneratedImage(data=d, mime="image/png", width=job.width, height=job.height) for d in datas)
        return GenerationResult(images=images, revised_prompt=job.prompt, model_used=job.model)

    def _render_all(self, job: GenerationJob) -> list[bytes]:
        return [self._cache.get_or_render(job.prompt, job.model, job.width, job.height, i) for i in range(job.n)]
