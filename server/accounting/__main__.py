"""Admin usage report: `python -m server.accounting usage [--start D] [--end D]`.

Totals across all keys for a UTC date range, live and test apart, then one line per key.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from server.accounting.usage import Totals, date_range
from server.database import open_store
from server.errors import InvalidRequest
from server.runtime.config import ServerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.accounting", description="Usage across keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    usage = commands.add_parser("usage", help="totals across keys, live and test apart")
    usage.add_argument("--start", default="", help="first UTC day, YYYY-MM-DD (default: 29 days before --end)")
    usage.add_argument("--end", default="", help="last UTC day, YYYY-MM-DD (default: today)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_report(args.start, args.end))
    except InvalidRequest as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


async def _report(start: str, end: str) -> int:
    settings = ServerSettings.from_env()
    start, end = date_range(start, end, dt.datetime.now(dt.UTC).date())
    store = await open_store(settings.database_url, settings.data_dir)
    try:
        rows = await store.usage(start, end)
    finally:
        await store.close()
    by_mode: dict[str, Totals] = {"live": Totals(), "test": Totals()}
    by_key: dict[tuple[str, str], Totals] = {}
    for row in rows:
        by_mode[row.mode].add(row)
        by_key.setdefault((row.key_id, row.mode), Totals()).add(row)
    print(f"usage {start} .. {end} (UTC)")
    print("scope\trequests\tfailed\timages\tcost_usd\tbilled_usd")
    for label, totals in [*by_mode.items(), *((f"{k} ({m})", t) for (k, m), t in sorted(by_key.items()))]:
        print(f"{label}\t{totals.requests}\t{totals.failed_requests}\t{totals.images}\t"
              f"{totals.cost_micros / 1e6:.6f}\t{totals.billed_micros / 1e6:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
