"""Reserve before any work, then settle on success or release on every other exit.

A Hold bundles the image reservation (both windows, all-or-nothing in the limiter) and, for keys
with a monthly cap, the money reservation (one conditional upsert plus a leased hold row in the
store, batched per key by spend_writer.py; the sweeper moves holds whose lease ended to spent).
Settling and releasing are idempotent and run as tracked, shielded tasks, so a client that hangs
up — even while a reservation is still being written — cannot leak capacity or money, and shutdown
waits for them before closing the stores. A settled request's money goes with its ledger row, in
the same statement (the pipeline's `_record`): a capped request pays one store round trip fewer.
"""
from __future__ import annotations

import asyncio
import calendar
import contextlib
import contextvars
import logging
import secrets
import time
from dataclasses import dataclass, field

from server.accounting.spend_writer import SpendWriter
from server.accounting.tiers import Tier, windows_for
from server.database import Store
from server.database.records import ApiKey, Settlement, SpendHold
from server.errors import InvalidRequest, RateLimitExceeded
from server.limits import Admitted, ImageLimiter, WindowState
from server.runtime.outages import backend
from server.runtime.tasks import TaskTracker

log = logging.getLogger("perf.accounting")

# What the call wrapper turns into rate-limit trailers for this call.
WINDOW_STATES = contextvars.ContextVar["tuple[WindowState, ...] | None"]("window_states", default=None)


def month_of(now: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(now))


def seconds_to_next_month(now: float) -> int:
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return max(1, calendar.timegm((year, month, 1, 0, 0, 0)) - int(now))


@dataclass
class Hold:
    key: ApiKey
    reservation_id: str
    spend: SpendHold | None = None
    # The write of the money reservation; settling waits for it, so it can never land after a release.
    spend_write: asyncio.Future[bool] | None = None
    done: bool = field(default=False)


class Accountant:
    def __init__(self, limiter: ImageLimiter, store: Store, tiers: dict[str, Tier], lease_s: float) -> None:
        self._limiter = limiter
        self._tiers = tiers
        self._lease_s = lease_s
        self.tasks = TaskTracker()
        self._spend = SpendWriter(store, self.tasks)

    async def peek(self, key: ApiKey) -> tuple[WindowState, ...]:
        with backend("rate limiter"):
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
        with backend("rate limiter"):
            outcome = await self._limiter.reserve(key.id, n, windows)
        WINDOW_STATES.set(outcome.windows)
        if not isinstance(outcome, Admitted):
            raise RateLimitExceeded(f"Rate limit exceeded for image generation: {n} image(s) would exceed "
                                    f"this key's {outcome.window} limit", retry_after=outcome.retry_after_s,
                                    limit=outcome.window)
        hold = Hold(key, outcome.reservation_id)
        if key.monthly_cap_micros is None:
            return hold
        now = time.time()
        hold.spend = SpendHold(id="hold_" + secrets.token_hex(12), key_id=key.id, month=month_of(now),
                               micros=cost_micros, expires_at=int(now + self._lease_s))
        hold.spend_write = self._spend.reserve(hold.spend, key.monthly_cap_micros)
        try:
            with backend("database"):
                admitted = await asyncio.shield(hold.spend_write)
        except BaseException:
            await self.release(hold)
            raise
        if not admitted:
            hold.spend = None  # nothing was reserved, so there is nothing to give back
            await self.release(hold)
            raise RateLimitExceeded(
                f"This request (${cost_micros / 1e6:.6f}) would exceed the key's monthly spend cap of "
                f"${key.monthly_cap_micros / 1e6:.2f}", retry_after=seconds_to_next_month(now), limit="monthly_spend")
        return hold

    async def settle(self, hold: Hold, delivered_cost_micros: int) -> Settlement | None:
        """Settles the images; returns the money to settle with the request's ledger row, where the
        store writes both in one statement (Store.record), or None if there is none (no cap, settled
        already). A caller with no row to write hands it to settle_money."""
        if hold.done:
            return None
        hold.done = True
        await self.tasks.shielded(self._finish_images(hold, settle=True))
        if hold.spend is None or not await self._spend_reserved(hold):
            return None
        return hold.spend, delivered_cost_micros

    async def settle_money(self, settles: Settlement) -> None:
        await self.tasks.shielded(self._finish_money(*settles))

    async def release(self, hold: Hold) -> None:
        if not hold.done:
            hold.done = True
            await self.tasks.shielded(self._release(hold))

    async def _release(self, hold: Hold) -> None:
        await self._finish_images(hold, settle=False)
        if hold.spend is not None and await self._spend_reserved(hold):
            await self._finish_money(hold.spend, 0)

    async def _finish_images(self, hold: Hold, *, settle: bool) -> None:
        try:
            if settle:
                await self._limiter.settle(hold.key.id, hold.reservation_id)
            else:
                await self._limiter.release(hold.key.id, hold.reservation_id)
        except Exception:
            # The limiter's lease frees the images eventually; the money must still be settled.
            log.exception("limiter %s failed for key=%s", "settle" if settle else "release", hold.key.id)

    @staticmethod
    async def _spend_reserved(hold: Hold) -> bool:
        """Whether the money reservation may be there to settle (False: it was refused)."""
        if hold.spend_write is not None:
            with contextlib.suppress(Exception):
                return bool(await hold.spend_write)
        return True

    async def _finish_money(self, spend: SpendHold, spent_micros: int) -> None:
        try:
            if not await self._spend.settle(spend, spent_micros):
                spend.warn_expired()
        except Exception:
            # The hold's lease moves it to spent later: the cap errs on the side of not overspending.
            log.exception("could not settle spend hold %s for key=%s", spend.id, spend.key_id)
