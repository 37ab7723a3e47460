"""A closed-loop HTTP load generator: `concurrency` workers, each sending its next request when the last ends."""
from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


async def run_load(url: str, body_for: Callable[[int], bytes], headers: dict[str, str], concurrency: int,
                   duration_s: float, warmup_s: float = 0.5) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        start = time.perf_counter()
        measure_from = start + warmup_s
        stop_at = measure_from + duration_s

        async def worker() -> None:
            nonlocal errors, counter
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                counter += 1
                sent = time.perf_counter()
                async with session.post(url, data=body_for(counter)) as response:
                    await response.read()
                    ok = response.status == 200
                done = time.perf_counter()
                if sent >= measure_from and done <= stop_at:
                    if ok:
                        latencies.append((done - sent) * 1000)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(requests=len(latencies), errors=errors, seconds=duration_s, latencies_ms=tuple(latencies))


async def run_burst(url: str, body: bytes, headers: dict[str, str], count: int,
                    timeout_s: float = 120.0, accept: Callable[[int, bytes], bool] | None = None) -> LoadResult:
    """Open loop: `count` requests sent at once, each on its own connection; latency per request.

    `errors` counts non-200 answers (or, given `accept(status, body)`, answers it rejects) and transport
    failures alike; `seconds` is the whole burst.
    """
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:

        async def one() -> None:
            nonlocal errors
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body) as response:
                    payload = await response.read()
                    ok = accept(response.status, payload) if accept else response.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        seconds = time.perf_counter() - start
    return LoadResult(requests=len(latencies), errors=errors, seconds=seconds, latencies_ms=tuple(latencies))


def client_name() -> str:
    from bench.wrk import wrk_available

    return "wrk (1 thread)" if wrk_available() else "aiohttp in Python (install wrk for a cheaper client)"


def measure(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float) -> Any:
    """One closed-loop cell with a constant body: wrk when installed, else the Python client."""
    from bench.wrk import run_wrk, wrk_available

    if wrk_available():
        return run_wrk(url, body, headers, concurrency, duration_s)
    return asyncio.run(run_load(url, lambda i: body, headers, concurrency, duration_s))
