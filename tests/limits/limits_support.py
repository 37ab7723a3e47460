"""Helpers that run one test body against both limiter backends (fixtures live in conftest.py).

The Redis backend needs PERF_TEST_REDIS_URL and a reachable server; otherwise its cases skip
with the reason. Each Redis case uses a fresh random key prefix and deletes its keys afterwards.
pytest-asyncio is not installed, so test bodies are coroutines run with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis

from server.limits import ImageLimiter, InProcessLimiter
from server.limits.redis import FINISH_LUA, RESERVE_LUA, RedisLimiter, Script

REDIS_URL = os.environ.get("PERF_TEST_REDIS_URL", "")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class FakeTimeRedisLimiter(RedisLimiter):
    """The production scripts with one line changed: TIME is read from a test-set hash field.

    Only for tests: it lets the Redis backend run on a FakeClock, deterministically. Each script
    call is pipelined behind an HSET of the clock's time into the subject's meta hash."""

    TIME_CALL = "redis.call('TIME')"

    def __init__(self, url: str, key_prefix: str, clock: FakeClock, *, lease_s: float) -> None:
        super().__init__(url, key_prefix, lease_s=lease_s)
        fake = "redis.call('HMGET', K_WIN, '#fake_s', '#fake_us')"
        assert RESERVE_LUA.count(self.TIME_CALL) == 1 and FINISH_LUA.count(self.TIME_CALL) == 1
        self._clock = clock
        self._fake = {script.sha: Script(script.source.replace(self.TIME_CALL, fake))
                      for script in (self._reserve, self._finish)}

    async def _run(self, script: Script, keys: list[str], args: Sequence[str | int]) -> Any:
        """The fake-time script, behind an HSET of the clock's time, with nothing between them."""
        fake = self._fake[script.sha]
        await self._redis.execute("SCRIPT", "LOAD", fake.source)
        us = round(self._clock.now * 1_000_000)
        replies = await self._redis.pipeline(("HSET", keys[1], "#fake_s", us // 1_000_000, "#fake_us", us % 1_000_000),
                                             ("EVALSHA", fake.sha, len(keys), *keys, *args))
        return replies[1]


def redis_skip_reason() -> str | None:
    """Why Redis cases cannot run here, or None if they can."""
    if not REDIS_URL:
        return "PERF_TEST_REDIS_URL is not set"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is unreachable: {exc}"
    return None


class Backend:
    """Makes limiters of one kind; ``sleep`` moves the fake clock (memory, or Redis with fake_time)
    or real time (Redis)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.clock = FakeClock()
        self.prefix = f"test:rl:{uuid.uuid4().hex}:"
        self._made: list[ImageLimiter] = []
        self.fake_time = False  # set once a Redis limiter runs on the FakeClock

    def make(self, lease_s: float = 600.0, fake_time: bool = False) -> ImageLimiter:
        """A new limiter; for Redis a new instance is a separate "replica" sharing the state.

        ``fake_time`` runs the Redis scripts on this backend's FakeClock (as memory always does)."""
        lim: ImageLimiter
        if self.kind == "memory":
            lim = InProcessLimiter(self.clock, lease_s=lease_s)
        elif fake_time:
            self.fake_time = True
            lim = FakeTimeRedisLimiter(REDIS_URL, self.prefix, self.clock, lease_s=lease_s)
        else:
            lim = RedisLimiter(REDIS_URL, self.prefix, lease_s=lease_s)
        self._made.append(lim)
        return lim

    async def sleep(self, seconds: float) -> None:
        """Let time pass for the limiter: the fake clock if it uses one, else real time."""
        if self.kind == "memory" or self.fake_time:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)

    def run(self, body: Callable[[], Awaitable[None]]) -> None:
        """Run an async test body, then close every limiter it made (on the same loop)."""

        async def wrapper() -> None:
            try:
                await body()
            finally:
                for lim in self._made:
                    await lim.close()
                self._made.clear()

        asyncio.run(wrapper())

    def redis_now(self) -> float:
        """Redis' own clock, in seconds."""
        sec, usec = redis.Redis.from_url(REDIS_URL).time()
        return sec + usec / 1e6

    def sync_redis(self) -> redis.Redis:
        """A plain client for inspecting keys."""
        return redis.Redis.from_url(REDIS_URL, decode_responses=True)

    def cleanup(self) -> None:
        """Delete every key this test created."""
        if self.kind != "redis":
            return
        client = self.sync_redis()
        keys = list(client.scan_iter(match=self.prefix + "*", count=500))
        if keys:
            client.delete(*keys)
