"""In-process image limiter: the single-server backend (no Redis).

Atomicity comes from asyncio itself: every public method does its whole check-and-reserve
without an ``await`` in between, so on one event loop no other task can interleave. It is not
thread-safe and not shared between processes; use the Redis backend for replicas.

Per subject it keeps, for each window, a :class:`~server.limits.buckets.BucketWindow` (images
per time bucket: at most 61 for the minute and 145 for the day, whatever the request rate) and
the pending reservations as individual entries (id → (time, n, lease deadline)), which are
bounded by concurrency. A release takes a pending reservation's n back out of the bucket it was
added to. The clock is monotonic and the lease is fixed, so pending entries are ordered by
deadline and expiry only pops from the front. A periodic sweep drops subjects with nothing left.

On a restart, :meth:`InProcessLimiter.restore` rebuilds the windows from what was admitted
before (the ledger, see ``server/accounting/restore.py``). The algorithm mirrors
``reserve.lua`` step for step so both backends decide identically.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from server.limits.base import (
    DEFAULT_LEASE_S,
    Admitted,
    Refused,
    WindowLimit,
    WindowState,
    ceil_s,
    validate,
)
from server.limits.buckets import BucketWindow

log = logging.getLogger(__name__)


class _Subject:
    """All limiter state of one subject."""

    __slots__ = ("windows", "pending")

    def __init__(self) -> None:
        self.windows: dict[str, BucketWindow] = {}
        # reservation id -> (reservation time, n, lease deadline); insertion order is deadline order
        self.pending: dict[str, tuple[float, int, float]] = {}

    def pending_parts(self) -> list[tuple[float, int]]:
        return [(t, n) for t, n, _ in self.pending.values()]


class InProcessLimiter:
    """Bucketed sliding-window limiter for one process; see the module docstring."""

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
                refused.append((win.retry_after(lim.limit, n, now), lim.name))
        if refused:
            # the binding window is the one that frees last; ties go to the first listed
            retry, name = max(refused, key=lambda r: r[0])
            return Refused(ceil_s(retry), name, self._states(sub, limits, now))
        rid = uuid.uuid4().hex
        for win in sub.windows.values():
            win.add(now, n)
        sub.pending[rid] = (now, n, now + self._lease_s)
        return Admitted(rid, self._states(sub, limits, now))

    async def settle(self, subject: str, reservation_id: str) -> None:
        """Keep the reservation counted; a no-op (with a warning) if unknown or its lease ran out."""
        now = self._now()
        sub = self._subjects.get(subject)
        pend = sub.pending.get(reservation_id) if sub else None
        if sub is None or pend is None:
            log.warning("settle of unknown, settled or released reservation %s", reservation_id)
            return
        if pend[2] <= now:
            # the lease already ran out: it counts as released, exactly as Redis would decide
            self._drop(sub, reservation_id)
            log.warning("settle after lease expiry of reservation %s: not counted", reservation_id)
            return
        del sub.pending[reservation_id]  # its images stay in their buckets until those age out

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

    def restore(self, admitted: Iterable[tuple[str, float, int]], windows: Mapping[str, int],
                wall_now: float) -> int:
        """Seed windows with images admitted before this process started; returns subjects seeded.

        ``admitted`` holds (subject, wall-clock time at or after which the images were reserved,
        images); ``windows`` maps window names to lengths, as later calls will name them. Wall
        times are mapped onto this limiter's clock by their age at ``wall_now``, and each lands
        in a bucket ending no earlier than that time, so restored images are never forgotten early.
        """
        now = self._clock()
        by_subject: dict[str, list[tuple[float, int]]] = {}
        for subject, until, n in admitted:
            if n > 0:
                by_subject.setdefault(subject, []).append((now - (wall_now - until), n))
        for subject, parts in by_subject.items():
            sub = self._subjects.setdefault(subject, _Subject())
            for name, window_s in windows.items():
                win = sub.windows.get(name)
                settled = parts + (win.settled_parts(sub.pending_parts()) if win else [])
                sub.windows[name] = BucketWindow.build(window_s, settled, sub.pending_parts(), now)
        return len(by_subject)

    def stored_entries(self, subject: str) -> dict[str, int]:
        """How many entries a subject holds, per window and pending (for memory tests and bench)."""
        sub = self._subjects.get(subject)
        if sub is None:
            return {}
        return {**{name: len(win.buckets) for name, win in sub.windows.items()}, "pending": len(sub.pending)}

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> float:
        """Read the clock and, at most once per sweep interval, purge idle subjects."""
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_every_s
            for key in list(self._subjects):
                sub = self._subjects[key]
                self._maintain(sub, now)
                if not sub.pending and not any(w.buckets for w in sub.windows.values()):
                    del self._subjects[key]
        return now

    def _prepare(self, subject: str, now: float, limits: Sequence[WindowLimit]) -> _Subject:
        """Bring a subject up to ``now`` and give it every window of ``limits`` at its length."""
        sub = self._subjects.get(subject)
        if sub is None:
            sub = self._subjects[subject] = _Subject()
        self._maintain(sub, now)
        changed = [lim for lim in limits
                   if lim.name not in sub.windows or sub.windows[lim.name].window_s != lim.window_s]
        if changed:
            # A window new to this subject (or whose length changed) starts from the longest
            # window it has, i.e. everything this subject still remembers (Redis: the same rule).
            source = min(sub.windows.items(), key=lambda kv: (-kv[1].window_s, kv[0]), default=None)
            pending = sub.pending_parts()
            settled = source[1].settled_parts(pending) if source else []
            for lim in changed:
                sub.windows[lim.name] = BucketWindow.build(lim.window_s, settled, pending, now)
        return sub

    def _maintain(self, sub: _Subject, now: float) -> None:
        """Release reservations whose lease ran out, then age every window."""
        pending = sub.pending
        while pending:
            rid = next(iter(pending))
            if pending[rid][2] > now:
                break
            self._drop(sub, rid)
        for win in sub.windows.values():
            win.age(now)

    @staticmethod
    def _drop(sub: _Subject, rid: str) -> None:
        """Take a pending reservation back out of the bucket it went into, in every window."""
        pend = sub.pending.pop(rid, None)
        if pend is None:
            return  # settled, released or unknown: nothing to give back
        t, n, _ = pend
        for win in sub.windows.values():
            win.remove(t, n)

    @staticmethod
    def _states(sub: _Subject, limits: Sequence[WindowLimit], now: float) -> tuple[WindowState, ...]:
        """Window states in the order of ``limits``."""
        out = []
        for lim in limits:
            win = sub.windows[lim.name]
            out.append(WindowState(lim.name, lim.limit, max(0, lim.limit - win.total), ceil_s(win.reset_after(now))))
        return tuple(out)
