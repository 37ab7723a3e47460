"""Randomized comparison of both limiters with a deliberately naive reference model.

The model keeps every reservation in a plain list and recomputes everything by scanning, with
the semantics stated in server/limits/base.py. Time moves in multiples of 1/8 s (exact in
binary floating point) and often lands exactly on an entry's expiry or lease deadline.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

from limits_support import REDIS_URL, Backend, FakeClock

from server.limits import Admitted, InProcessLimiter, Refused, WindowLimit, WindowState
from server.limits.redis import FINISH_LUA, RESERVE_LUA, RedisLimiter

TIME_CALL = "redis.call('TIME')"


@dataclass
class Entry:
    rid: str
    t: float
    n: int
    pending: bool
    deadline: float


class Model:
    """Reference semantics: scan the whole log for every question."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self.log: dict[str, list[Entry]] = {}
        self.counter = 0

    def _live(self, subject: str, now: float) -> list[Entry]:
        # a pending entry whose lease ran out is released for good
        entries = [e for e in self.log.get(subject, []) if not (e.pending and e.deadline <= now)]
        self.log[subject] = entries
        return entries

    def states(self, subject: str, limits: list[WindowLimit], now: float) -> tuple[WindowState, ...]:
        out = []
        for lim in limits:
            counted = [e for e in self._live(subject, now) if e.t + lim.window_s > now]
            used = sum(e.n for e in counted)
            reset = math.ceil(max(e.t for e in counted) + lim.window_s - now) if counted else 0
            out.append(WindowState(lim.name, lim.limit, max(0, lim.limit - used), reset))
        return tuple(out)

    def reserve(self, subject: str, n: int, limits: list[WindowLimit], now: float) -> Admitted | Refused:
        refusals = []
        for lim in limits:
            counted = [e for e in self._live(subject, now) if e.t + lim.window_s > now]
            used = sum(e.n for e in counted)
            if used + n <= lim.limit:
                continue
            if n > lim.limit:
                refusals.append((lim.window_s, lim.name))
                continue
            freed = 0
            for e in sorted(counted, key=lambda e: e.t):
                freed += e.n
                if used - freed + n <= lim.limit:
                    refusals.append((e.t + lim.window_s - now, lim.name))
                    break
        if refusals:
            # the binding window is the one that frees last (exact time, before rounding)
            retry, name = max(refusals, key=lambda r: r[0])
            return Refused(math.ceil(retry), name, self.states(subject, limits, now))
        self.counter += 1
        rid = f"m{self.counter}"
        self.log.setdefault(subject, []).append(Entry(rid, now, n, True, now + self.lease_s))
        return Admitted(rid, self.states(subject, limits, now))

    def settle(self, subject: str, rid: str, now: float) -> None:
        for e in self._live(subject, now):
            if e.rid == rid:
                e.pending = False

    def release(self, subject: str, rid: str, now: float) -> None:
        self.log[subject] = [e for e in self._live(subject, now) if not (e.rid == rid and e.pending)]


class FakeTimeRedisLimiter(RedisLimiter):
    """The production scripts with one line changed: TIME is read from a test-set hash field.

    Only for tests: it lets the Redis backend run the same deterministic comparison."""

    def __init__(self, url: str, key_prefix: str, *, lease_s: float) -> None:
        super().__init__(url, key_prefix, lease_s=lease_s)
        fake = "redis.call('HMGET', K_WIN, '#fake_s', '#fake_us')"
        assert RESERVE_LUA.count(TIME_CALL) == 1 and FINISH_LUA.count(TIME_CALL) == 1
        self._reserve = self._redis.register_script(RESERVE_LUA.replace(TIME_CALL, fake))
        self._finish = self._redis.register_script(FINISH_LUA.replace(TIME_CALL, fake))

    async def set_time(self, subject: str, now: float) -> None:
        us = round(now * 1_000_000)
        await self._redis.hset(self.keys(subject)[1], mapping={"#fake_s": us // 1_000_000, "#fake_us": us % 1_000_000})


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
            lim = FakeTimeRedisLimiter(REDIS_URL, f"{redis_prefix}{seed}:", lease_s=lease)
        try:
            for step in range(steps):
                await one_step(lim, step)
        finally:
            await lim.close()

    async def one_step(lim: InProcessLimiter | FakeTimeRedisLimiter, step: int) -> None:
        op = rng.random()
        subject = rng.choice(subjects)
        now = clock.now
        if isinstance(lim, FakeTimeRedisLimiter):
            await lim.set_time(subject, now)
        if op < 0.45:
            lims, n = limits(), rng.randint(1, 7)
            got = await lim.reserve(subject, n, lims)
            want = model.reserve(subject, n, lims, now)
            assert type(got) is type(want), (seed, step, got, want)
            if isinstance(got, Admitted) and isinstance(want, Admitted):
                assert got.windows == want.windows, (seed, step, got, want)
                ids.append((subject, got.reservation_id, want.reservation_id))
            else:
                assert got == want, (seed, step, got, want)
        elif op < 0.6 and ids:
            s, rid, mid = rng.choice(ids)
            if isinstance(lim, FakeTimeRedisLimiter):
                await lim.set_time(s, now)
            await lim.settle(s, rid)
            model.settle(s, mid, now)
        elif op < 0.75 and ids:
            s, rid, mid = rng.choice(ids)
            if isinstance(lim, FakeTimeRedisLimiter):
                await lim.set_time(s, now)
            await lim.release(s, rid)
            model.release(s, mid, now)
        elif op < 0.85:
            lims = limits()
            assert await lim.peek(subject, lims) == model.states(subject, lims, now), (seed, step)
        else:
            boundaries = [
                b
                for e in model.log.get(subject, [])
                for b in (e.t + minute_w, e.t + day_w, e.deadline)
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
