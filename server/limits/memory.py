"""In-process image limiter: the single-server backend (no Redis).

Atomicity comes from asyncio itself: every public method does its whole check-and-reserve
without an ``await`` in between, so on one event loop no other task can interleave. It is not
thread-safe and not shared between processes; use the Redis backend for replicas.

Per subject it keeps, for each window, an insertion-ordered dict of the entries still counted
there (reservation id → (t, n)) plus their running total, and a dict of pending reservations
(id → (n, lease deadline)). The clock is monotonic and the lease is fixed, so both dicts are
ordered by time and ageing only pops from the front: O(entries that left) per call, never a scan
of the whole log. Memory stays bounded: entries leave when they leave their window, and a
periodic sweep drops subjects that have nothing left.

The algorithm mirrors ``reserve.lua`` step for step so both backends decide identically.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence

from server.limits.base import (
    DEFAULT_LEASE_S,
    Admitted,
    Refused,
    WindowLimit,
    WindowState,
    ceil_s,
    validate,
)

log = logging.getLogger(__name__)


class _Window:
    """The entries one window still counts, oldest first, and the sum of their n."""

    __slots__ = ("window_s", "entries", "total")

    def __init__(self, window_s: float, entries: dict[str, tuple[float, int]]) -> None:
        self.window_s = window_s
        self.entries = entries
        self.total = sum(n for _, n in entries.values())

    def age(self, now: float) -> None:
        """Forget entries that have left the window (t + window_s <= now)."""
        entries = self.entries
        while entries:
            rid = next(iter(entries))
            t, n = entries[rid]
            if t + self.window_s > now:
                break
            del entries[rid]
            self.total -= n


class _Subject:
    """All limiter state of one subject."""

    __slots__ = ("windows", "pending")

    def __init__(self) -> None:
        self.windows: dict[str, _Window] = {}
        # reservation id -> (n, lease deadline); insertion order is deadline order
        self.pending: dict[str, tuple[int, float]] = {}


class InProcessLimiter:
    """Exact sliding-log limiter for one process; see the module docstring."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        sweep_every_s: float = 60.0,
    ) -> None:
        """``clock`` returns seconds and must never go backwards (injectable for tests)."""
        self._clock = clock
        self._lease_s = float(lease_s)
        self._sweep_every_s = sweep_every_s
        self._subjects: dict[str, _Subject] = {}
        self._next_sweep = clock() + sweep_every_s

    async def reserve(self, subject: str, n: int, limits: Sequence[WindowLimit]) -> Admitted | Refused:
        """Admit n images in every window or refuse without counting anything."""
        validate(n, limits)
        now = self._now()
        sub = self._prepare(subject, now, limits)
        refused: list[tuple[float, str]] = []
        for lim in limits:
            win = sub.windows[lim.name]
            if win.total + n > lim.limit:
                refused.append((self._retry_after(win, lim, n, now), lim.name))
        if refused:
            # the binding window is the one that frees last; ties go to the first listed
            retry, name = max(refused, key=lambda r: r[0])
            return Refused(ceil_s(retry), name, self._states(sub, limits, now))
        rid = uuid.uuid4().hex
        for win in sub.windows.values():
            win.entries[rid] = (now, n)
            win.total += n
        sub.pending[rid] = (n, now + self._lease_s)
        return Admitted(rid, self._states(sub, limits, now))

    async def settle(self, subject: str, reservation_id: str) -> None:
        """Keep the reservation counted; a no-op (with a warning) if unknown or its lease ran out."""
        now = self._now()
        sub = self._subjects.get(subject)
        pend = sub.pending.get(reservation_id) if sub else None
        if sub is None or pend is None:
            log.warning("settle of unknown, settled or released reservation %s", reservation_id)
            return
        if pend[1] <= now:
            # the lease already ran out: it counts as released, exactly as Redis would decide
            self._drop(sub, reservation_id)
            log.warning("settle after lease expiry of reservation %s: not counted", reservation_id)
            return
        del sub.pending[reservation_id]

    async def release(self, subject: str, reservation_id: str) -> None:
        """Give a pending reservation's images back in every window; otherwise do nothing."""
        sub = self._subjects.get(subject)
        if sub is not None:
            self._drop(sub, reservation_id)

    async def peek(self, subject: str, limits: Sequence[WindowLimit]) -> tuple[WindowState, ...]:
        """The current state of each window of ``limits``."""
        validate(1, limits)
        now = self._now()
        return self._states(self._prepare(subject, now, limits), limits, now)

    async def close(self) -> None:
        """Nothing to close; drops all state."""
        self._subjects.clear()

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> float:
        """Read the clock and, at most once per sweep interval, purge idle subjects."""
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_every_s
            for key in list(self._subjects):
                sub = self._subjects[key]
                self._maintain(sub, now)
                if not sub.pending and not any(w.entries for w in sub.windows.values()):
                    del self._subjects[key]
        return now

    def _prepare(self, subject: str, now: float, limits: Sequence[WindowLimit]) -> _Subject:
        """Bring a subject up to ``now`` and make sure it has every window of ``limits``."""
        sub = self._subjects.get(subject)
        if sub is None:
            sub = self._subjects[subject] = _Subject()
        for lim in limits:
            win = sub.windows.get(lim.name)
            if win is not None:
                win.window_s = float(lim.window_s)
        self._maintain(sub, now)
        longest = max(sub.windows.values(), key=lambda w: w.window_s, default=None)
        for lim in limits:
            if lim.name not in sub.windows:
                # a window new to this subject starts from what the longest window still holds,
                # i.e. everything this subject still remembers (Redis: the trimmed log)
                src = longest.entries if longest else {}
                kept = {r: e for r, e in src.items() if e[0] + lim.window_s > now}
                sub.windows[lim.name] = _Window(float(lim.window_s), kept)
        return sub

    def _maintain(self, sub: _Subject, now: float) -> None:
        """Release reservations whose lease ran out, then age every window."""
        pending = sub.pending
        while pending:
            rid = next(iter(pending))
            if pending[rid][1] > now:
                break
            self._drop(sub, rid)
        for win in sub.windows.values():
            win.age(now)

    @staticmethod
    def _drop(sub: _Subject, rid: str) -> None:
        """Remove a pending reservation from every window it still counts in."""
        if sub.pending.pop(rid, None) is None:
            return  # settled, released or unknown: nothing to give back
        for win in sub.windows.values():
            entry = win.entries.pop(rid, None)
            if entry is not None:
                win.total -= entry[1]

    @staticmethod
    def _retry_after(win: _Window, lim: WindowLimit, n: int, now: float) -> float:
        """Seconds until n images fit: the oldest entries whose n must free have aged out."""
        if n > lim.limit:
            return float(lim.window_s)  # can never fit; the caller rejects this up front
        need = win.total + n - lim.limit
        for t, m in win.entries.values():
            need -= m
            if need <= 0:
                return t + win.window_s - now
        return float(lim.window_s)  # unreachable: need <= total whenever n <= limit

    @staticmethod
    def _states(sub: _Subject, limits: Sequence[WindowLimit], now: float) -> tuple[WindowState, ...]:
        """Window states in the order of ``limits``."""
        out = []
        for lim in limits:
            win = sub.windows[lim.name]
            reset = 0
            if win.entries:
                newest_t = next(reversed(win.entries.values()))[0]
                reset = ceil_s(newest_t + win.window_s - now)
            out.append(WindowState(lim.name, lim.limit, max(0, lim.limit - win.total), reset))
        return tuple(out)
