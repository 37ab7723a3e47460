"""Reserve before any work, then settle on success or release on every other exit.

A Hold bundles the image reservation (both windows, all-or-nothing in the limiter) and, for keys
with a monthly cap, the money reservation (one conditional UPDATE in the store). `release` and
`settle` are idempotent and shielded from cancellation, so a client that hangs up mid-generation
cannot leak capacity or money.
"""
from __future__ import annotations

import asyncio
import calendar
import contextvars
import logging
import time
from dataclasses import dataclass, field

from server.accounting.tiers import Tier, windows_for
from server.errors import InvalidRequest, RateLimitExceeded
from server.limits import Admitted, ImageLimiter, WindowState
from server.store import Store
from server.store.records import ApiKey

log = logging.getLogger("perf.accounting")

# What the interceptor turns into rate-limit headers for this call.
WINDOW_STATES = contextvars.ContextVar["tuple[WindowState, ...] | None"]("window_states", default=None)


def month_of(now: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(now))


def seconds_to_next_month(now: float) -> int:
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return max(1, calendar.timegm((year, month, 1, 0, 0, 0)) - int(now))


@dataclass
class Hold:
    accountant: Accountant
    key: ApiKey
    reservation_id: str
    spend_month: str | None
    spend_micros: int
    _done: bool = field(default=False)

    async def settle(self, delivered_cost_micros: int) -> None:
        if self._done:
            return
        self._done = True
        await asyncio.shield(self.accountant._finish(self, delivered_cost_micros, settle=True))

    async def release(self) -> None:
        if self._done:
            return
        self._done = True
        await asyncio.shield(self.accountant._finish(self, 0, settle=False))


class Accountant:
    def __init__(self, limiter: ImageLimiter, store: Store, tiers: dict[str, Tier]) -> None:
        self._limiter = limiter
        self._store = store
        self._tiers = tiers

    async def peek(self, key: ApiKey) -> tuple[WindowState, ...]:
        states = await self._limiter.peek(key.id, windows_for(key, self._tiers))
        WINDOW_STATES.set(states)
        return states

    async def reserve(self, key: ApiKey, n: int, cost_micros: int) -> Hold:
        windows = windows_for(key, self._tiers)
        for window in windows:
            if n > window.limit:
                # A 429 here could never succeed however long the client waited.
                raise InvalidRequest(f"n={n} is more than this key's limit of {window.limit} images per "
                                     f"{window.name}", param="n")
        outcome = await self._limiter.reserve(key.id, n, windows)
        WINDOW_STATES.set(outcome.windows)
        if not isinstance(outcome, Admitted):
            raise RateLimitExceeded(f"Rate limit exceeded for image generation: {n} image(s) would exceed "
                                    f"this key's {outcome.window} limit", retry_after=outcome.retry_after_s)
        hold = Hold(self, key, outcome.reservation_id, None, 0)
        if key.monthly_cap_micros is not None:
            now = time.time()
            month = month_of(now)
            try:
                admitted = await self._store.reserve_spend(key.id, month, cost_micros, key.monthly_cap_micros)
            except BaseException:
                await hold.release()
                raise
            if not admitted:
                await hold.release()
                raise RateLimitExceeded(
                    f"This request (${cost_micros / 1e6:.6f}) would exceed the key's monthly spend cap of "
                    f"${key.monthly_cap_micros / 1e6:.2f}", retry_after=seconds_to_next_month(now))
            hold.spend_month, hold.spend_micros = month, cost_micros
        return hold

    async def _finish(self, hold: Hold, delivered_cost_micros: int, *, settle: bool) -> None:
        try:
            if settle:
                await self._limiter.settle(hold.key.id, hold.reservation_id)
            else:
                await self._limiter.release(hold.key.id, hold.reservation_id)
        except Exception:
            # The lease frees the images eventually; money below must still be settled.
            log.exception("limiter %s failed for key=%s", "settle" if settle else "release", hold.key.id)
        if hold.spend_month is not None:
            await self._store.settle_spend(hold.key.id, hold.spend_month, hold.spend_micros,
                                           delivered_cost_micros if settle else 0)
