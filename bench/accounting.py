"""`make bench` (part): what limits, spend caps and the ledger cost per request.

1. End to end, test mode, b64_json 256x256 through gateway + server: (SQLite, in-process limiter)
   beside (PostgreSQL, Redis), each with and without a monthly spend cap on the key; both stacks run at
   once and the cells interleave, so each ratio to the embedded default comes from the same reps.
2. The accounting work alone, in this process against the real backends: reserve + settle + ledger
   row per request, sequential (µs each) and 16 at a time (per second) — the part of a request's cost
   that accounting adds, since the rest of the path is identical; with this process's CPU per request
   at 16 at a time (the event loop and SQLite's writer thread, not the PostgreSQL or Redis servers').
PostgreSQL/Redis rows need PERF_TEST_DATABASE_URL / PERF_TEST_REDIS_URL (as in CI); they are skipped
with a note otherwise. Prints; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median

from bench.load import LoadResult, run_load
from server.accounting.holds import Accountant
from server.accounting.tiers import load_tiers
from server.database import open_store
from server.database.records import ApiKey, LedgerEntry
from server.limits import make_limiter
from tests import services
from tests.stack import Stack

BODY = json.dumps({"prompt": "accounting", "model": "dall-e-2", "size": "256x256",
                   "response_format": "b64_json"}).encode()


def pairings() -> list[tuple[str, dict[str, str], str]]:
    """(label, server env, why skipped or '')."""
    rows = [("sqlite + in-process", {}, "")]
    reason = services.database_skip_reason() or services.redis_skip_reason()
    rows.append(("postgres + redis", {}, reason or ""))
    return rows


def end_to_end(duration: float, reps: int, tmp: Path) -> None:
    """Both pairings run at once and their cells interleave, rep by rep, so a noisy neighbour slows
    all of them alike; each figure is the median of `reps`, and each ratio is to the embedded default
    (SQLite + in-process, no cap) at the same concurrency, measured in the same reps."""
    stacks: list[tuple[str, Stack, tuple[str, str] | None]] = []
    cells: list[tuple[str, str, dict[str, str], int]] = []  # (pairing, cap, headers, concurrency)
    try:
        for label, env, skipped in pairings():
            if skipped:
                print(f"| {label:<24} | skipped: {skipped}")
                continue
            cleanup = None
            if label.startswith("postgres"):
                url, name = services.create_database()
                prefix = services.redis_prefix()
                env = {"PERF_DATABASE_URL": url, "PERF_REDIS_URL": os.environ["PERF_TEST_REDIS_URL"],
                       "PERF_REDIS_PREFIX": prefix}
                cleanup = (name, prefix)
            stack = Stack(tmp / uuid.uuid4().hex, env_overrides={**env, "PERF_LOG_LEVEL": "WARNING"})
            stacks.append((label, stack, cleanup))
            stack.data_dir.mkdir()
            stack.start()
            for cap in (None, "1000000"):
                extra = ["--monthly-cap-usd", cap] if cap else []
                key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "100000000",
                                       "--day-limit", "100000000", *extra)
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                for concurrency in (1, 16):
                    cells.append((label, "yes" if cap else "no", headers, concurrency))
        urls = {label: stack.base_url + "/v1/images/generations" for label, stack, _ in stacks}
        runs: dict[tuple[str, str, int], list[LoadResult]] = {}
        for rep in range(reps):
            ordered = cells[rep % len(cells):] + cells[:rep % len(cells)]  # a different cell first each rep
            for label, cap, headers, concurrency in ordered:
                result = asyncio.run(run_load(urls[label], lambda i: BODY, headers, concurrency, duration))
                runs.setdefault((label, cap, concurrency), []).append(result)
        print("| store + limiter          | spend cap | conc |    req/s | ÷ embedded | p50 (ms) | p99 (ms) |")
        print("|--------------------------|-----------|------|----------|------------|----------|----------|")
        baseline = {conc: median(r.rps for r in runs[("sqlite + in-process", "no", conc)])
                    for conc in (1, 16) if ("sqlite + in-process", "no", conc) in runs}
        for (label, cap, concurrency), results in runs.items():
            rps = median(r.rps for r in results)
            ratio = f"{rps / baseline[concurrency]:.2f}" if baseline.get(concurrency) else "-"
            print(f"| {label:<24} | {cap:<9} | {concurrency:>4} | {rps:>8.0f} | {ratio:>10} | "
                  f"{median(r.p50 for r in results):>8.1f} | {median(r.p99 for r in results):>8.1f} |", flush=True)
        print(f"(median of {reps} interleaved reps of {duration:.0f} s each)")
    finally:
        for _, stack, cleanup in stacks:
            stack.stop()
            if cleanup:
                services.drop_database(cleanup[0])
                services.delete_redis_prefix(cleanup[1])


async def accounting_only(label: str, database_url: str | None, redis_url: str | None, prefix: str,
                          data_dir: Path, count: int) -> str:
    store = await open_store(database_url, data_dir)
    limiter = make_limiter(redis_url, prefix)
    accountant = Accountant(limiter, store, load_tiers(), lease_s=900)
    key = ApiKey(id="key_bench", mode="test", tier="enterprise", name="", hint="", created_at=0, revoked_at=None,
                 minute_limit=10**9, day_limit=10**9, monthly_cap_micros=10**12)
    uncapped = ApiKey(**{**key.__dict__, "monthly_cap_micros": None})

    async def one(api_key: ApiKey, i: int) -> None:
        hold = await accountant.reserve(api_key, 1, 16_000)
        settles = await accountant.settle(hold, 16_000)
        await store.record(LedgerEntry(uuid.uuid4().hex, f"req_{i}", api_key.id, "test", "dall-e-2",
                                       "openai", "dall-e-2", 1, 1, "256x256", "standard", 16_000, 0, 1, "ok", "",
                                       "", int(time.time()), time.strftime("%Y-%m-%d")), settles)

    out = []
    try:
        for api_key, cap in ((uncapped, "no cap"), (key, "cap")):
            started = time.perf_counter()
            for i in range(count):
                await one(api_key, i)
            sequential_us = (time.perf_counter() - started) / count * 1e6
            started, cpu_started = time.perf_counter(), time.process_time()
            for batch in range(count // 16):
                await asyncio.gather(*(one(api_key, batch * 16 + j + count) for j in range(16)))
            # This process's CPU (loop and writer thread), not PostgreSQL's or Redis's.
            cpu_us = (time.process_time() - cpu_started) / (count // 16 * 16) * 1e6
            parallel = (count // 16 * 16) / (time.perf_counter() - started)
            out.append(f"| {label:<24} | {cap:<6} | {sequential_us:>10.0f} | {parallel:>12.0f} | {cpu_us:>14.0f} |")
    finally:
        await limiter.close()
        await store.close()
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("\nAccounting, end to end (test mode, b64_json 256x256):")
        end_to_end(args.duration, args.reps, tmp)
        print("\nAccounting work alone (reserve + settle + ledger row), in-process against the real backends:")
        print("| store + limiter          | spend  | µs/request | requests/s ×16 | CPU µs/req ×16 |")
        print("|--------------------------|--------|------------|----------------|----------------|")
        for label, _, skipped in pairings():
            if skipped:
                print(f"| {label:<24} | skipped: {skipped}")
                continue
            if label.startswith("postgres"):
                url, name = services.create_database()
                prefix = services.redis_prefix()
                try:
                    print(asyncio.run(accounting_only(label, url, os.environ["PERF_TEST_REDIS_URL"], prefix, tmp,
                                                      args.count)))
                finally:
                    services.drop_database(name)
                    services.delete_redis_prefix(prefix)
            else:
                print(asyncio.run(accounting_only(label, None, None, "", tmp / "alone", args.count)))


if __name__ == "__main__":
    main()
