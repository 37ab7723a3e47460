"""Randomized comparison of both limiters with a deliberately naive reference model, and of both
with the exact log of what they admitted.

The model keeps every reservation in a plain list and recomputes everything by scanning, with
the semantics stated in server/limits/base.py and buckets.py: an entry reserved at t counts in a
window of W seconds as if it came at the end of its bucket, ``(floor(t / g) + 1) * g`` with
``g = max(1, ceil(W / 144))``, while ``now`` is before that plus W. Independently of that rule,
every step also checks the guarantees against the exact times: never more than the limit within
any rolling window, a retry-after never earlier than the exact one, and a client that waits
exactly the retry-after is admitted. Time moves in multiples of 1/8 s (exact in binary floating
point) and often lands exactly on an entry's expiry, its bucket's expiry or a lease deadline.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

from limits_support import REDIS_URL, Backend, FakeClock, FakeTimeRedisLimiter

from server.limits import Admitted, InProcessLimiter, Refused, WindowLimit, WindowState


def width(window_s: int) -> int:
    """Bucket width, restated here rather than imported so a change to it must change the test."""
    return max(1, math.ceil(window_s / 144))


@dataclass
class Entry:
    rid: str
    t: float
    n: int
    pending: bool
    deadline: float

    def counted_at(self, window_s: int, exact: bool = False) -> float:
        """When the limiter counts this entry in a window: its bucket's end (or its true time)."""
        if exact:
            return self.t
        g = width(window_s)
        return (math.floor(self.t / g) + 1) * g


class Model:
    """Reference semantics: scan the whole log for every question."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self.log: dict[str, list[Entry]] = {}
        self.counter = 0

    def live(self, subject: str, now: float) -> list[Entry]:
        # a pending entry whose lease ran out is released for good
        entries = [e for e in self.log.get(subject, []) if not (e.pending and e.deadline <= now)]
        self.log[subject] = entries
        return entries

    def counted(self, subject: str, lim: WindowLimit, now: float, exact: bool = False) -> list[Entry]:
        return [e for e in self.live(subject, now) if e.counted_at(lim.window_s, exact) + lim.window_s > now]

    def states(self, subject: str, limits: list[WindowLimit], now: float) -> tuple[WindowState, ...]:
        out = []
        for lim in limits:
            counted = self.counted(subject, lim, now)
            used = sum(e.n for e in counted)
            reset = (math.ceil(max(e.counted_at(lim.window_s) for e in counted) + lim.window_s - now)
                     if counted else 0)
            out.append(WindowState(lim.name, lim.limit, max(0, lim.limit - used), reset))
        return tuple(out)

    def refusal(self, subject: str, n: int, limits: list[WindowLimit], now: float,
                exact: bool = False) -> tuple[float, str] | None:
        """(exact seconds until n fits, binding window) or None if n fits now."""
        refusals = []
        for lim in limits:
            counted = self.counted(subject, lim, now, exact)
            used = sum(e.n for e in counted)
            if used + n <= lim.limit:
                continue
            if n > lim.limit:
                refusals.append((float(lim.window_s), lim.name))
                continue
            freed = 0
            for e in sorted(counted, key=lambda e: e.counted_at(lim.window_s, exact)):
                freed += e.n
                if used - freed + n <= lim.limit:
                    refusals.append((e.counted_at(lim.window_s, exact) + lim.window_s - now, lim.name))
                    break
        # the binding window is the one that frees last (exact time, before rounding)
        return max(refusals, key=lambda r: r[0]) if refusals else None

    def reserve(self, subject: str, n: int, limits: list[WindowLimit], now: float) -> Admitted | Refused:
        refused = self.refusal(subject, n, limits, now)
        if refused:
            return Refused(math.ceil(refused[0]), refused[1], self.states(subject, limits, now))
        self.counter += 1
        rid = f"m{self.counter}"
        self.log.setdefault(subject, []).append(Entry(rid, now, n, True, now + self.lease_s))
        return Admitted(rid, self.states(subject, limits, now))

    def settle(self, subject: str, rid: str, now: float) -> None:
        for e in self.live(subject, now):
            if e.rid == rid:
                e.pending = False

    def release(self, subject: str, rid: str, now: float) -> None:
        self.log[subject] = [e for e in self.live(subject, now) if not (e.rid == rid and e.pending)]

    def check_exact_guarantees(self, subject: str, limits: list[WindowLimit], now: float) -> None:
        """No rolling window, measured on the true reservation times, holds more than its limit."""
        for lim in limits:
            assert sum(e.n for e in self.counted(subject, lim, now, exact=True)) <= lim.limit


def run_one(seed: int, steps: int, redis_prefix: str | None = None) -> None:
    """One random operation sequence; asserts the limiter and the model agree at every step."""
    rng = random.Random(seed)
    minute_w = rng.choice([60, 7, 1])
    day_w = rng.choice([300, 86400, minute_w])
    lease = rng.choice([30.0, 100.0, 600.0, 0.125])
    clock = FakeClock(rng.choice([0.0, 1000.0]) + (1.7e9 if redis_prefix else 0.0))
    sweep = rng.choice([60.0, 1.0])
    model = Model(lease)
    subjects = ["a", "b", "c"][: rng.randint(1, 3)]
    ids: list[tuple[str, str, str]] = []  # (subject, limiter id, model id)

    def limits() -> list[WindowLimit]:
        # limits may change between calls (a tier change); window lengths stay put per name
        return [
            WindowLimit("minute", rng.choice([0, 1, 5, 5, 10]), minute_w),
            WindowLimit("day", rng.choice([5, 12, 50]), day_w),
        ]

    async def body() -> None:
        lim: InProcessLimiter | FakeTimeRedisLimiter
        if redis_prefix is None:
            lim = InProcessLimiter(clock, lease_s=lease, sweep_every_s=sweep)
        else:
            lim = FakeTimeRedisLimiter(REDIS_URL, f"{redis_prefix}{seed}:", clock, lease_s=lease)
        try:
            for step in range(steps):
                await one_step(lim, step)
        finally:
            await lim.close()

    async def one_step(lim: InProcessLimiter | FakeTimeRedisLimiter, step: int) -> None:
        op = rng.random()
        subject = rng.choice(subjects)
        now = clock.now
        if op < 0.45:
            lims, n = limits(), rng.randint(1, 7)
            exact = model.refusal(subject, n, lims, now, exact=True)
            got = await lim.reserve(subject, n, lims)
            want = model.reserve(subject, n, lims, now)
            assert type(got) is type(want), (seed, step, got, want)
            if isinstance(got, Admitted) and isinstance(want, Admitted):
                assert got.windows == want.windows, (seed, step, got, want)
                ids.append((subject, got.reservation_id, want.reservation_id))
                model.check_exact_guarantees(subject, lims, now)
            else:
                assert got == want, (seed, step, got, want)
                # counting at bucket ends may refuse what the exact log would admit, never the reverse
                assert isinstance(got, Refused)
                assert exact is None or got.retry_after_s >= math.ceil(exact[0]), (seed, step, got, exact)
                if rng.random() < 0.3 and n <= min(q.limit for q in lims):
                    # waiting exactly retry-after, with nothing else arriving, must admit
                    clock.advance(got.retry_after_s)
                    again = await lim.reserve(subject, n, lims)
                    assert isinstance(again, Admitted), (seed, step, got, again)
                    mirrored = model.reserve(subject, n, lims, clock.now)
                    assert isinstance(mirrored, Admitted) and again.windows == mirrored.windows, (seed, step)
                    ids.append((subject, again.reservation_id, mirrored.reservation_id))
                    model.check_exact_guarantees(subject, lims, clock.now)
        elif op < 0.6 and ids:
            s, rid, mid = rng.choice(ids)
            await lim.settle(s, rid)
            model.settle(s, mid, now)
        elif op < 0.75 and ids:
            s, rid, mid = rng.choice(ids)
            await lim.release(s, rid)
            model.release(s, mid, now)
        elif op < 0.85:
            lims = limits()
            assert await lim.peek(subject, lims) == model.states(subject, lims, now), (seed, step)
        else:
            boundaries = [
                b
                for e in model.log.get(subject, [])
                for b in (e.t + minute_w, e.t + day_w, e.deadline,
                          e.counted_at(minute_w) + minute_w, e.counted_at(day_w) + day_w)
                if b > now
            ]
            if boundaries and rng.random() < 0.5:
                clock.now = rng.choice(boundaries)  # land exactly on an expiry
            else:
                clock.advance(rng.choice([0.125, 0.5, 1.0, 3.875, 10.0, 59.875, 120.0, 400.0]))

    asyncio.run(body())


def test_memory_limiter_matches_reference_model() -> None:
    for seed in range(300):
        run_one(seed, 150)


def test_redis_scripts_match_reference_model(redis_backend: Backend) -> None:
    """The same comparison for the Lua scripts, with Redis TIME replaced by a test-set value."""
    for seed in range(40):
        run_one(seed, 150, redis_prefix=redis_backend.prefix)
