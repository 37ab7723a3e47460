"""The sweeper's database housekeeping, run as the server runs it: money holds past their lease move to spent."""
from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from server.database.records import SpendHold
from server.database.sqlite import SqliteStore
from server.pipeline.idempotency import Idempotency
from server.runtime.config import ServerSettings
from server.runtime.housekeeping import sweep_forever
from server.storage.local import LocalImageStore


def test_the_sweeper_moves_holds_past_their_lease_to_spent(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[int, int]]:
        store = SqliteStore(tmp_path / "db.sqlite3")
        settings = ServerSettings.from_env({"PERF_SWEEP_INTERVAL_SECONDS": "0.05"})
        now = int(time.time())
        # One whose replica died (lease over), one still running.
        await store.reserve_spend([SpendHold("orphan", "key_h", "2026-12", 30_000, now - 1)], 1_000_000)
        await store.reserve_spend([SpendHold("running", "key_h", "2026-12", 5_000, now + 600)], 1_000_000)
        seen = [await store.month_spend("key_h", "2026-12")]
        sweeper = asyncio.create_task(sweep_forever(LocalImageStore(tmp_path / "images"),
                                                    Idempotency(store, 900), store, settings))
        try:
            for _ in range(100):
                await asyncio.sleep(0.02)
                if await store.month_spend("key_h", "2026-12") != seen[0]:
                    break
            seen.append(await store.month_spend("key_h", "2026-12"))
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await store.close()
        return seen

    assert asyncio.run(scenario()) == [(0, 35_000), (30_000, 5_000)]
