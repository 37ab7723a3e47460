"""`make bench` (part): memory per key of the image limiter at a steady request rate, before and after.

One key makes one reservation of one image every 1/rate seconds for a simulated day (a fake clock
in process; in Redis the scripts' TIME replaced by a field the driver sets in the same pipeline),
each settled at once, and then the bytes that key holds are printed: tracemalloc for the
in-process limiter, the sum of MEMORY USAGE over the key's Redis keys. "sliding log" is the code
as of commit ``BEFORE`` (read with ``git show``, so it is measured, not estimated), "buckets" is
the current code. The log holds one entry per reservation of the last 24 h, so it grows with the
rate; the buckets are at most 61 + 145 whatever the rate, so the last column extrapolates each
design to 1,000 req/s (linear for the log, flat for the buckets).

Redis rows need PERF_TEST_REDIS_URL (as in CI); they are skipped with a note otherwise. Prints;
asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import tracemalloc
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.limits import InProcessLimiter, WindowLimit
from server.limits.redis import FINISH_LUA, RESERVE_LUA, RedisLimiter
from tests import services
from tests.stack import ROOT

BEFORE = "b9661ae"  # the last commit with the sliding-log limiter
DAY_S = 86_400
# Limits nothing here reaches: every reservation is admitted and stays counted for its window.
WIDE = [WindowLimit("minute", 10**9, 60), WindowLimit("day", 10**12, DAY_S)]
TIME_CALL = "redis.call('TIME')"
FAKE_TIME = "redis.call('HMGET', K_WIN, '#fake_s', '#fake_us')"
START_S = 1_700_000_000


@dataclass
class Measured:
    backend: str
    design: str
    rate: float
    entries: int
    bytes: int
    grows_with_rate: bool

    def row(self) -> str:
        at_1000 = self.bytes * 1000 / self.rate if self.grows_with_rate else self.bytes
        return (f"| {self.backend:<10} | {self.design:<24} | {self.rate:>7g} | {self.entries:>9,} | "
                f"{_human(self.bytes):>10} | {_human(at_1000):>14} |")


def _human(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _git_show(path: str) -> str | None:
    done = subprocess.run(["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def _old_in_process_class() -> Callable[..., Any] | None:
    """The sliding-log InProcessLimiter class as of BEFORE, loaded from git into a throwaway module."""
    source = _git_show("server/limits/memory.py")
    if source is None:
        return None
    module = types.ModuleType("old_memory_limiter")
    exec(compile(source, f"{BEFORE}:server/limits/memory.py", "exec"), module.__dict__)
    return module.InProcessLimiter  # type: ignore[no-any-return]


def _old_entries(limiter: Any) -> int:
    sub = next(iter(limiter._subjects.values()))
    return sum(len(w.entries) for w in sub.windows.values()) + len(sub.pending)


async def _drive_in_process(limiter: Any, clock: list[float], rate: float) -> None:
    for _ in range(int(DAY_S * rate)):
        admitted = await limiter.reserve("key", 1, WIDE)
        await limiter.settle("key", admitted.reservation_id)
        clock[0] += 1 / rate


def measure_in_process(make: Callable[..., Any], rate: float) -> tuple[int, Any]:
    """Bytes the limiter holds for one key after a day at ``rate`` (tracemalloc), and the limiter."""
    clock = [float(START_S)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # a sweep far in the future: it would only drop idle subjects, and this one never is
        limiter = make(lambda: clock[0], lease_s=900, sweep_every_s=10 * DAY_S)
        asyncio.run(_drive_in_process(limiter, clock, rate))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, limiter


async def measure_redis(url: str, reserve_lua: str, finish_lua: str, keys: list[str],
                        rate: float) -> tuple[int, int, str]:
    """MEMORY USAGE summed over one key's Redis keys after a day at ``rate``, its entry count, and
    the encoding of its largest structure (the first key: the log or the buckets)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        await client.delete(*keys)
        reserve = await client.script_load(reserve_lua.replace(TIME_CALL, FAKE_TIME))
        finish = await client.script_load(finish_lua.replace(TIME_CALL, FAKE_TIME))
        args: list[Any] = [1, 900_000_000]
        for lim in WIDE:
            args += [lim.name, lim.limit, lim.window_s]
        pipe = client.pipeline(transaction=False)
        for i in range(int(DAY_S * rate)):
            us = round((START_S + i / rate) * 1_000_000)
            rid = uuid.uuid4().hex
            pipe.hset(keys[1], mapping={"#fake_s": us // 1_000_000, "#fake_us": us % 1_000_000})
            pipe.evalsha(reserve, 4, *keys, rid, *args)
            pipe.evalsha(finish, 4, *keys, "settle", rid)
            if i % 500 == 499:
                await pipe.execute()
        await pipe.execute()
        await client.hdel(keys[1], "#fake_s", "#fake_us")  # the driver's, not the limiter's
        total = 0
        for key in keys:
            total += int(await client.memory_usage(key, samples=0) or 0)
        entries = 0
        for key in keys:
            kind = await client.type(key)
            entries += int(await (client.zcard(key) if kind == "zset" else client.hlen(key))) if kind != "none" else 0
        encoding = str(await client.object("encoding", keys[0]))
        await client.delete(*keys)
        return total, entries, encoding
    finally:
        await client.aclose()


def _listpack_entries(url: str) -> str:
    import redis

    return str(redis.Redis.from_url(url, decode_responses=True).config_get("hash-max-listpack-entries")
               .get("hash-max-listpack-entries", "?"))


def main() -> None:
    parser = argparse.ArgumentParser()
    # one simulated day at 1 req/s takes ~40 s here (tracemalloc slows Python several times)
    parser.add_argument("--rates", default="1", help="steady request rates to simulate, comma-separated (req/s)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    print("Limiter memory per key after a simulated day at a steady rate (1 image per request, all settled)")
    print("| backend    | design                   |   req/s |   entries |  bytes/key | at 1,000 req/s |")
    print("|------------|--------------------------|---------|-----------|------------|----------------|")
    old_class = _old_in_process_class()
    old_lua = [_git_show(f"server/limits/{name}.lua") for name in ("common", "reserve", "finish")]
    redis_url = os.environ.get("PERF_TEST_REDIS_URL", "")
    redis_reason = services.redis_skip_reason()
    encodings: list[str] = []
    for rate in rates:
        results: list[Measured] = []
        if old_class is not None:
            held, old = measure_in_process(old_class, rate)
            results.append(Measured("in-process", f"sliding log ({BEFORE})", rate, _old_entries(old), held, True))
        held, new = measure_in_process(InProcessLimiter, rate)
        results.append(Measured("in-process", "buckets", rate, sum(new.stored_entries("key").values()), held, False))
        if not redis_reason:
            prefix = f"bench:rl:{uuid.uuid4().hex[:8]}:"
            if None not in old_lua:
                common, reserve, finish = (s or "" for s in old_lua)
                base = f"{prefix}{{key}}:"
                old_keys = [base + "log", base + "win", base + "pend", base + "lease"]
                size, entries, _ = asyncio.run(measure_redis(redis_url, common + reserve, common + finish, old_keys,
                                                             rate))
                results.append(Measured("redis", f"sliding log ({BEFORE})", rate, entries, size, True))
            new_keys = RedisLimiter(redis_url, prefix).keys("key")
            size, entries, encoding = asyncio.run(measure_redis(redis_url, RESERVE_LUA, FINISH_LUA, new_keys, rate))
            results.append(Measured("redis", "buckets", rate, entries, size, False))
            encodings.append(encoding)
        for result in results:
            print(result.row(), flush=True)
    if old_class is None:
        print(f"(sliding-log rows skipped: commit {BEFORE} is not in this checkout's history)")
    if redis_reason:
        print(f"(Redis rows skipped: {redis_reason})")
    else:
        print(f"Redis bucket hash encoding: {', '.join(encodings)}; this server's hash-max-listpack-entries is "
              f"{_listpack_entries(redis_url)} (Redis' default, 512, is above the 206 bucket fields; a server set "
              "below them stores the hash as a hashtable: more bytes, still flat in the rate).")
    print("entries: dict items in process (both windows and pending), hash fields / sorted-set members in Redis "
          "(the meta hash included). The buckets' count stops at 61 + 145 (+ a few meta fields) at any rate of "
          "at least 1 req/s, so their bytes stay flat.")


if __name__ == "__main__":
    main()
