"""Behaviour of both limiter backends: exactness under concurrency, all-or-nothing windows,
settle/release/lease semantics, retry-after from bucket ends, and state bounded by the buckets."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from limits_support import Backend

from server.limits import Admitted, Refused, WindowLimit, make_limiter
from server.limits.memory import InProcessLimiter
from server.limits.redis import RedisLimiter

FREE = [WindowLimit("minute", 5, 60), WindowLimit("day", 50, 86400)]


def remaining(states: tuple) -> dict[str, int]:
    return {s.name: s.remaining for s in states}


def test_concurrent_mixed_reserves_admit_exactly(backend: Backend) -> None:
    """200 concurrent reserves of n in 1..4 (two replicas on Redis) never exceed 5 images."""
    rng = random.Random(20240601)
    ns = [rng.randint(1, 4) for _ in range(200)]

    async def body() -> None:
        lims = [backend.make(), backend.make()] if backend.kind == "redis" else [backend.make()]
        for subject in ("alpha", "beta"):
            results = await asyncio.gather(
                *(lims[i % len(lims)].reserve(subject, n, FREE) for i, n in enumerate(ns))
            )
            admitted = sum(n for n, r in zip(ns, results) if isinstance(r, Admitted))
            refused = [(n, r) for n, r in zip(ns, results) if isinstance(r, Refused)]
            assert admitted == 5  # ≤ 5, and as many as fit: n=1 requests were always around
            # admissions only ever use capacity up, so a refused n that fits now would be a bug
            assert min(n for n, _ in refused) > 5 - admitted
            # a one-second bucket counts until its end + 60 s: at most 61 s from now
            assert all(r.window == "minute" and 1 <= r.retry_after_s <= 61 for _, r in refused)
            assert remaining(await lims[-1].peek(subject, FREE)) == {"minute": 0, "day": 45}

    backend.run(body)


def test_day_exhausted_refuses_without_touching_minute(backend: Backend) -> None:
    limits = [WindowLimit("minute", 10, 60), WindowLimit("day", 3, 86400)]

    async def body() -> None:
        lim = backend.make()
        assert isinstance(await lim.reserve("k", 3, limits), Admitted)
        before = await lim.peek("k", limits)
        assert remaining(before) == {"minute": 7, "day": 0}
        for n in (1, 2):
            r = await lim.reserve("k", n, limits)
            assert isinstance(r, Refused) and r.window == "day"
            # the 3 sit in a ten-minute bucket counted at its end: 24 h plus at most 10 min
            assert 86_400 <= r.retry_after_s <= 87_000
            assert r.retry_after_s == before[1].reset_s
            assert r.windows == before
        assert await lim.peek("k", limits) == before

    backend.run(body)


def test_free_tier_day_exhausted_after_ten_minutes(memory_backend: Backend) -> None:
    """With real tier limits: 50 images over 10 minutes, then the minute is open but the day is not."""

    async def body() -> None:
        lim = memory_backend.make()
        start = memory_backend.clock.now
        for _ in range(10):
            r = await lim.reserve("k", 5, FREE)
            assert isinstance(r, Admitted)
            await lim.settle("k", r.reservation_id)
            # 61 s: a one-second bucket counts until its end + 60 s
            await memory_backend.sleep(61)
        before = await lim.peek("k", FREE)
        assert remaining(before) == {"minute": 5, "day": 0}
        r = await lim.reserve("k", 1, FREE)
        assert isinstance(r, Refused) and r.window == "day"
        # the very first 5 must age out: their ten-minute bucket counts until its end + 24 h
        first_bucket_end = (start // 600 + 1) * 600
        assert r.retry_after_s == first_bucket_end + 86400 - memory_backend.clock.now
        assert await lim.peek("k", FREE) == before

    memory_backend.run(body)


def test_release_settle_semantics(backend: Backend) -> None:
    async def body() -> None:
        lim = backend.make()
        a = await lim.reserve("k", 3, FREE)
        assert isinstance(a, Admitted) and remaining(a.windows) == {"minute": 2, "day": 47}
        await lim.release("k", a.reservation_id)
        assert remaining(await lim.peek("k", FREE)) == {"minute": 5, "day": 50}
        await lim.release("k", a.reservation_id)  # double release: harmless, no extra capacity
        await lim.settle("k", a.reservation_id)  # settle after release: nothing to settle
        assert remaining(await lim.peek("k", FREE)) == {"minute": 5, "day": 50}

        b = await lim.reserve("k", 4, FREE)
        assert isinstance(b, Admitted)
        await lim.settle("k", b.reservation_id)
        await lim.release("k", b.reservation_id)  # after settle: does nothing
        await lim.settle("k", b.reservation_id)
        await lim.release("k", "no-such-reservation")
        await lim.release("other-subject", b.reservation_id)
        assert remaining(await lim.peek("k", FREE)) == {"minute": 1, "day": 46}

    backend.run(body)


def test_n_above_limit_is_refused_safely(backend: Backend) -> None:
    async def body() -> None:
        lim = backend.make()
        r = await lim.reserve("k", 6, FREE)
        assert isinstance(r, Refused) and r.window == "minute" and r.retry_after_s == 60
        assert remaining(r.windows) == {"minute": 5, "day": 50}
        assert isinstance(await lim.reserve("k", 2, FREE), Admitted)
        r = await lim.reserve("k", 51, FREE)
        assert isinstance(r, Refused) and r.window == "day" and r.retry_after_s == 86400
        assert remaining(await lim.peek("k", FREE)) == {"minute": 3, "day": 48}
        with pytest.raises(ValueError):
            await lim.reserve("k", 0, FREE)
        with pytest.raises(ValueError):
            await lim.reserve("k", 1, [FREE[0], FREE[0]])

    backend.run(body)


def test_leased_reservations_expire(backend: Backend) -> None:
    """Pending reservations are released after the lease; settled ones stay counted."""
    lease = 30.0 if backend.kind == "memory" else 0.4

    async def body() -> None:
        lim = backend.make(lease_s=lease)
        a = await lim.reserve("k", 3, FREE)
        b = await lim.reserve("k", 2, FREE)
        assert isinstance(a, Admitted) and isinstance(b, Admitted)
        await lim.settle("k", b.reservation_id)
        await backend.sleep(lease + 0.15)
        assert remaining(await lim.peek("k", FREE)) == {"minute": 3, "day": 48}
        await lim.settle("k", a.reservation_id)  # too late: it was released
        await lim.release("k", a.reservation_id)
        assert remaining(await lim.peek("k", FREE)) == {"minute": 3, "day": 48}

    backend.run(body)


def test_retry_after_counts_buckets_at_their_end(memory_backend: Backend) -> None:
    """3 at t0, 2 at t0+10 against 5/min: the oldest buckets that must go decide, for this n, and
    each one-second bucket counts until its end (t0 + 1) + 60 s."""
    limits = [WindowLimit("minute", 5, 60)]
    clock = memory_backend.clock

    async def body() -> None:
        lim = memory_backend.make()
        assert isinstance(await lim.reserve("k", 3, limits), Admitted)
        clock.advance(10)
        assert isinstance(await lim.reserve("k", 2, limits), Admitted)
        clock.advance(10)
        expected = {1: 41, 2: 41, 3: 41, 4: 51, 5: 51, 6: 60}
        for n, want in expected.items():
            r = await lim.reserve("k", n, limits)
            assert isinstance(r, Refused) and r.retry_after_s == want, (n, r)
        assert (await lim.peek("k", limits))[0].reset_s == 51
        clock.advance(0.5)  # fractions round up
        r = await lim.reserve("k", 1, limits)
        assert isinstance(r, Refused) and r.retry_after_s == 41
        clock.advance(40)  # t0+60.5: the first bucket still counts
        r = await lim.reserve("k", 1, limits)
        assert isinstance(r, Refused) and r.retry_after_s == 1
        clock.advance(0.5)  # t0+61: waited exactly the retry-after, so the first 3 fit
        assert isinstance(await lim.reserve("k", 3, limits), Admitted)
        r = await lim.reserve("k", 1, limits)
        assert isinstance(r, Refused) and r.retry_after_s == 10

    memory_backend.run(body)


def test_retry_after_matches_redis_time(redis_backend: Backend) -> None:
    """Redis decides with its own TIME: retry-after is bucket end + window − TIME, rounded up."""
    limits = [WindowLimit("minute", 5, 3)]
    client = redis_backend.sync_redis()

    async def body() -> None:
        lim = redis_backend.make()
        first = await lim.reserve("k", 3, limits)
        await asyncio.sleep(1.2)
        second = await lim.reserve("k", 2, limits)
        assert isinstance(first, Admitted) and isinstance(second, Admitted)
        assert isinstance(lim, RedisLimiter)
        # one-second buckets (a 3 s window): each reservation counts from the end of its second
        pending = client.hgetall(lim.keys("k")[2])
        ends = {rid: int(v.split(":")[0]) // 1_000_000 + 1 for rid, v in pending.items()}
        before = redis_backend.redis_now()
        refusals = {n: await lim.reserve("k", n, limits) for n in (1, 3, 4, 5)}
        after = redis_backend.redis_now()
        for n, r in refusals.items():
            end = ends[(first if n <= 3 else second).reservation_id]
            assert isinstance(r, Refused)
            assert math.ceil(end + 3 - after) <= r.retry_after_s <= math.ceil(end + 3 - before)
        assert refusals[3].retry_after_s < refusals[4].retry_after_s

    redis_backend.run(body)


def test_replicas_share_state_and_keys_expire(redis_backend: Backend) -> None:
    client = redis_backend.sync_redis()

    async def body() -> None:
        a, b = redis_backend.make(), redis_backend.make()
        assert isinstance(a, RedisLimiter)
        r = await a.reserve("key-1", 4, FREE)
        assert isinstance(r, Admitted)
        assert remaining(await b.peek("key-1", FREE)) == {"minute": 1, "day": 46}
        await b.release("key-1", r.reservation_id)
        assert remaining(await a.peek("key-1", FREE)) == {"minute": 5, "day": 50}
        keys = a.keys("key-1")
        assert all("{key-1}" in k for k in keys)  # one hash tag: one Cluster slot
        # the day plus its last bucket's ten minutes, plus a second
        assert 87_000_000 < client.pttl(keys[1]) <= 87_001_000
        short = [WindowLimit("minute", 5, 2)]
        await a.reserve("key-2", 1, short)
        assert all(0 < client.pttl(k) <= 600_000 + 1000 for k in a.keys("key-2"))

    redis_backend.run(body)


def test_memory_sweep_drops_idle_subjects(memory_backend: Backend) -> None:
    async def body() -> None:
        lim = memory_backend.make(lease_s=600)
        assert isinstance(lim, InProcessLimiter)
        for i in range(100):
            await lim.reserve(f"s{i}", 1, FREE)
        memory_backend.clock.advance(86400)
        await lim.peek("fresh", FREE)
        assert list(lim._subjects) == ["fresh"]

    memory_backend.run(body)


def test_make_limiter_picks_backend() -> None:
    async def body() -> None:
        mem = make_limiter(None, "x:")
        red = make_limiter("redis://127.0.0.1:1/0", "x:")  # no I/O until used
        assert isinstance(mem, InProcessLimiter) and isinstance(red, RedisLimiter)
        await mem.close()
        await red.close()

    asyncio.run(body())


def test_window_added_later_starts_from_remembered_entries(backend: Backend) -> None:
    """A subject that gains a day limit (tier change) counts what it still remembers in it."""

    async def body() -> None:
        lim = backend.make()
        assert isinstance(await lim.reserve("k", 2, FREE[:1]), Admitted)
        assert remaining(await lim.peek("k", FREE)) == {"minute": 3, "day": 48}
        unlimited = await lim.reserve("k", 1, [])
        assert isinstance(unlimited, Admitted) and unlimited.windows == ()
        assert remaining(await lim.peek("k", FREE)) == {"minute": 2, "day": 47}

    backend.run(body)


def test_settles_and_releases_that_arrive_together_are_each_applied_once(backend: Backend) -> None:
    """Redis sends finishes that gather while one is in flight as one pipeline (server/limits/redis.py);
    each must land exactly as a lone one would, also when Redis has forgotten the scripts."""
    wide = (WindowLimit("minute", 1000, 60), WindowLimit("day", 1000, 86400))

    async def body() -> None:
        lim = backend.make()
        for forget_scripts in (False, True):
            subject = f"together-{forget_scripts}"
            admitted = [await lim.reserve(subject, 2, wide) for _ in range(40)]
            assert all(isinstance(a, Admitted) for a in admitted)
            if forget_scripts and backend.kind == "redis":
                backend.sync_redis().script_flush()  # as after a Redis restart: the pipeline meets NOSCRIPT
            ids = [a.reservation_id for a in admitted if isinstance(a, Admitted)]
            await asyncio.gather(*(lim.settle(subject, i) for i in ids[:25]), *(lim.release(subject, i) for i in ids[25:]),
                                 lim.release(subject, ids[0]))  # a release after (or beside) its settle: nothing
            assert remaining(await lim.peek(subject, wide)) == {"minute": 950, "day": 950}
            await asyncio.gather(*(lim.release(subject, i) for i in ids))  # all finished: releases change nothing
            assert remaining(await lim.peek(subject, wide)) == {"minute": 950, "day": 950}
            if backend.kind == "redis":
                assert backend.sync_redis().hlen(f"{backend.prefix}{{{subject}}}:pending") == 0

    backend.run(body)
