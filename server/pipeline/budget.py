"""A server-wide budget of image bytes held in memory, so a burst of large generations queues instead
of exhausting memory.

Each generation takes an estimate of the bytes it will hold (n images of its delivered size: the
upstream's encoded bytes, their base64 and the response built from them) before it calls the
provider, and gives it back when its response is built. The estimate learns from what the model's
images have weighed lately (ImageSizes): a 10 KB image held 3 MiB by the fixed per-pixel guess, so
1 GiB admitted only 341 small generations at once, where 1,000 need 30 MB. An image heavier than
its estimate grows its hold when it arrives, so `used` stays the bytes actually in memory.

When the budget is spent, newcomers wait in arrival order, up to PERF_INFLIGHT_WAIT_SECONDS (bounded
by their own deadline), then get 503 provider_unavailable with retry_after. One request larger than
the whole budget may still run, alone, so no request is refused for its size alone.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from server.errors import ProviderUnavailable

# Bytes held per delivered pixel: ~1.5 for the encoded image, ×4/3 as base64, plus the copy in the
# response being built. Measured on the sandbox and the fakes' images; deliberately on the high side.
BYTES_PER_PIXEL = 3


# Held per encoded byte once it has arrived: the image, its base64 (4/3) and the response's copy, rounded up.
HELD_PER_ENCODED_BYTE = 2.5
# Never less than this per image, however small the model's recent images were.
MIN_BYTES_PER_IMAGE = 64 * 1024


def estimate_bytes(n: int, width: int, height: int) -> int:
    return n * width * height * BYTES_PER_PIXEL


class ImageSizes:
    """What each model's images have weighed lately, as encoded bytes per pixel: the heaviest of its
    last `window`, so one light image never lowers the estimate for the heavy ones around it."""

    def __init__(self, window: int = 64) -> None:
        self._window = window
        self._recent: dict[str, collections.deque[float]] = {}
        self._heaviest: dict[str, float] = {}

    def estimate(self, model: str, n: int, width: int, height: int) -> int:
        per_pixel = self._heaviest.get(model)
        if per_pixel is None:  # nothing seen yet: the fixed guess
            return estimate_bytes(n, width, height)
        return n * max(MIN_BYTES_PER_IMAGE, int(width * height * per_pixel * HELD_PER_ENCODED_BYTE))

    def observe(self, model: str, width: int, height: int, encoded_sizes: Sequence[int]) -> None:
        recent = self._recent.setdefault(model, collections.deque(maxlen=self._window))
        pixels = max(1, width * height)
        for size in encoded_sizes:
            recent.append(size / pixels)
        self._heaviest[model] = max(recent)


def held_bytes(encoded_sizes: Sequence[int]) -> int:
    """What delivered images hold in memory until their response is built."""
    return int(sum(encoded_sizes) * HELD_PER_ENCODED_BYTE)


@dataclass
class Held:
    bytes: int


class ImageByteBudget:
    def __init__(self, max_bytes: int, wait_s: float) -> None:
        self._max = max_bytes
        self._wait_s = wait_s
        self._used = 0
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @property
    def used(self) -> int:
        return self._used

    @contextlib.asynccontextmanager
    async def hold(self, wanted: int, time_remaining: float | None = None) -> AsyncIterator[Held]:
        """Hold `wanted` bytes of the budget for the block (waiting if needed, see the module docstring)."""
        held = Held(min(wanted, self._max))
        await self._acquire(held.bytes, time_remaining)
        try:
            yield held
        finally:
            self._release(held.bytes)

    def grow(self, held: Held, actual: int) -> None:
        """The images arrived heavier than estimated: count them as they are (without waiting, since
        they are already in memory), so newcomers wait for them."""
        if actual > held.bytes:
            self._used += actual - held.bytes
            held.bytes = actual

    async def _acquire(self, wanted: int, time_remaining: float | None) -> None:
        if not self._waiting and self._used + wanted <= self._max:
            self._used += wanted
            return
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.append((wanted, ticket))
        wait = self._wait_s if time_remaining is None else max(0.0, min(self._wait_s, time_remaining - 1))
        try:
            await asyncio.wait_for(asyncio.shield(ticket), wait)
        except TimeoutError:
            if ticket.done():  # granted just as the wait ran out: keep it
                return
            self._forget(ticket)
            raise ProviderUnavailable("The server is holding as many images in memory as it may; retry shortly.",
                                      retry_after=1, retry_safe=True) from None
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._release(wanted)  # granted, but its request is gone: hand it on
            else:
                self._forget(ticket)
            raise

    def _forget(self, ticket: asyncio.Future[None]) -> None:
        self._waiting = collections.deque(w for w in self._waiting if w[1] is not ticket)
        ticket.cancel()
        self._grant()

    def _release(self, amount: int) -> None:
        self._used -= amount
        self._grant()

    def _grant(self) -> None:
        # First come, first served: a large request at the head is not overtaken by small ones.
        while self._waiting and self._used + self._waiting[0][0] <= self._max:
            wanted, ticket = self._waiting.popleft()
            self._used += wanted
            ticket.set_result(None)
