"""bench/limiter.py still runs against the current code (a few simulated reservations; it asserts nothing itself)."""
from __future__ import annotations

from bench.limiter import Measured, measure_in_process
from server.limits import InProcessLimiter


def test_limiter_memory_benchmark_runs() -> None:
    held, limiter = measure_in_process(InProcessLimiter, 0.001)  # 86 reservations over the simulated day
    entries = sum(limiter.stored_entries("key").values())
    assert 0 < held and 0 < entries <= 61 + 145
    assert Measured("in-process", "buckets", 0.001, entries, held, False).row().startswith("| in-process")
