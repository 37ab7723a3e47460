"""A server-wide budget of image bytes held in memory, so a burst of large generations queues instead
of exhausting memory.

Each generation takes an estimate of the bytes it will hold (n images of its delivered size: the
upstream's encoded bytes, their base64 and the response built from them) before it calls the
provider, and gives it back when its response is built. When the budget is spent, newcomers wait
in arrival order, up to PERF_INFLIGHT_WAIT_SECONDS (bounded by their own deadline), then get
503 provider_unavailable with retry_after. One request larger than the whole budget may still run,
alone, so no request is refused for its size alone.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

from server.errors import ProviderUnavailable

# Bytes held per delivered pixel: ~1.5 for the encoded image, ×4/3 as base64, plus the copy in the
# response being built. Measured on the sandbox and the fakes' images; deliberately on the high side.
BYTES_PER_PIXEL = 3


def estimate_bytes(n: int, width: int, height: int) -> int:
    return n * width * height * BYTES_PER_PIXEL


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
    async def hold(self, wanted: int, time_remaining: float | None = None) -> AsyncIterator[None]:
        """Hold `wanted` bytes of the budget for the block (waiting if needed, see the module docstring)."""
        wanted = min(wanted, self._max)
        await self._acquire(wanted, time_remaining)
        try:
            yield
        finally:
            self._release(wanted)

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
