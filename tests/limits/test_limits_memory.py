"""State per subject is bounded by the windows' buckets, not by the request rate, on both backends.

Counts stored entries (dict items in process; hash fields and sorted-set members in Redis) after
many reservations over simulated time; nothing here measures time or bytes (bench/limiter.py
prints the bytes).
"""

from __future__ import annotations

import random

from limits_support import Backend

from server.limits import Admitted, ImageLimiter, InProcessLimiter, WindowLimit
from server.limits.redis import RedisLimiter

# Limits no test below reaches, so every reservation is admitted and stays counted.
WIDE = [WindowLimit("minute", 10**9, 60), WindowLimit("day", 10**12, 86400)]
MINUTE_BUCKETS, DAY_BUCKETS = 61, 145  # 60 s in 1 s buckets, 24 h in 10 min buckets, +1 partial
CONCURRENCY = 8


def requests_for(backend: Backend) -> int:
    """20,000 in process; 5,000 against Redis (two round trips each, ~3 s), still 25x the bound."""
    return 20_000 if backend.kind == "memory" else 5_000


def stored(backend: Backend, lim: ImageLimiter, subject: str) -> dict[str, int]:
    """Entries held for one subject: buckets per window, and pending reservations."""
    if isinstance(lim, InProcessLimiter):
        return lim.stored_entries(subject)
    assert isinstance(lim, RedisLimiter)
    client = backend.sync_redis()
    bkt, meta, pending, leases = lim.keys(subject)
    fields = client.hkeys(bkt)
    assert client.zcard(leases) == client.hlen(pending)
    # meta holds four fields per window and the clock's high-water mark (plus the fake clock's two)
    assert client.hlen(meta) <= 4 * 2 + 3
    return {"minute": sum(f.startswith("minute:") for f in fields),
            "day": sum(f.startswith("day:") for f in fields), "pending": client.hlen(pending)}


async def drive(backend: Backend, lim: ImageLimiter, requests: int, gap_s: float) -> list[dict[str, int]]:
    """``requests`` reservations ``gap_s`` apart, at most CONCURRENCY pending (settled or released
    oldest first); returns the stored entries sampled every 500 requests."""
    rng = random.Random(5)
    in_flight: list[str] = []
    samples = []
    for i in range(requests):
        r = await lim.reserve("k", rng.randint(1, 4), WIDE)
        assert isinstance(r, Admitted)
        in_flight.append(r.reservation_id)
        if len(in_flight) >= CONCURRENCY:
            rid = in_flight.pop(0)
            await (lim.settle("k", rid) if rng.random() < 0.9 else lim.release("k", rid))
        await backend.sleep(gap_s)
        if i % 500 == 499:
            samples.append(stored(backend, lim, "k"))
    return samples


def assert_bounded(samples: list[dict[str, int]]) -> None:
    for sample in samples:
        assert sample["minute"] <= MINUTE_BUCKETS and sample["day"] <= DAY_BUCKETS, sample
        assert sample["pending"] <= CONCURRENCY, sample


def test_reservations_over_a_day_stay_within_the_buckets(backend: Backend) -> None:
    """One key, 20,000 (Redis: 5,000) reservations spread evenly over 30 simulated hours."""

    async def body() -> None:
        lim = backend.make(fake_time=True)
        requests = requests_for(backend)
        samples = await drive(backend, lim, requests, 30 * 3600 / requests)
        assert_bounded(samples)
        # the day is full by now: every ten-minute bucket of the last 24 h holds images
        assert samples[-1]["day"] >= DAY_BUCKETS - 1
        peek = await lim.peek("k", WIDE)
        assert peek[1].remaining < 10**12 - requests  # the last 24 h: 4/5 of them, 1-4 images each

    backend.run(body)


def test_a_burst_over_100_seconds_stays_within_the_buckets(backend: Backend) -> None:
    """200 (Redis: 50) reservations a second for 100 s: the old sliding log held one entry for
    each of them; the buckets are at most 61 + 2."""

    async def body() -> None:
        lim = backend.make(fake_time=True)
        requests = requests_for(backend)
        samples = await drive(backend, lim, requests, 100 / requests)
        assert_bounded(samples)
        assert samples[-1]["minute"] == MINUTE_BUCKETS and samples[-1]["day"] <= 2

    backend.run(body)


def test_idle_subject_leaves_nothing_behind(backend: Backend) -> None:
    async def body() -> None:
        lim = backend.make(fake_time=True)
        r = await lim.reserve("k", 2, WIDE)
        assert isinstance(r, Admitted)
        await lim.settle("k", r.reservation_id)
        await backend.sleep(86_400 + 600)  # the day plus its last bucket's width
        # state ages on the next call (and Redis' TTL, on real time, deletes the keys)
        assert [s.remaining for s in await lim.peek("k", WIDE)] == [10**9, 10**12]
        assert stored(backend, lim, "k") == {"minute": 0, "day": 0, "pending": 0}

    backend.run(body)


def test_release_takes_the_images_out_of_their_own_bucket(backend: Backend) -> None:
    """A release gives back exactly what it reserved, even after other images joined its bucket,
    and in the day window after the minute has already forgotten it."""
    limits = [WindowLimit("minute", 10, 60), WindowLimit("day", 20, 86400)]

    async def body() -> None:
        lim = backend.make(fake_time=True)
        a = await lim.reserve("k", 3, limits)
        await backend.sleep(0.25)  # same one-second bucket
        b = await lim.reserve("k", 2, limits)
        assert isinstance(a, Admitted) and isinstance(b, Admitted)
        await lim.settle("k", b.reservation_id)
        await lim.release("k", a.reservation_id)
        assert [s.remaining for s in await lim.peek("k", limits)] == [8, 18]
        c = await lim.reserve("k", 4, limits)
        assert isinstance(c, Admitted)
        await backend.sleep(90)  # the minute no longer counts c; the day does
        assert [s.remaining for s in await lim.peek("k", limits)] == [10, 14]
        await lim.release("k", c.reservation_id)
        assert [s.remaining for s in await lim.peek("k", limits)] == [10, 18]
        await lim.release("k", c.reservation_id)  # twice: nothing more comes back
        assert [s.remaining for s in await lim.peek("k", limits)] == [10, 18]
        assert stored(backend, lim, "k") == {"minute": 0, "day": 1, "pending": 0}

    backend.run(body)
