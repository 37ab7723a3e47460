"""Rebuilding the in-process limiter from the ledger: which rows count, on both stores, and how
wall-clock ledger times land on the limiter's monotonic clock."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from server.accounting.restore import WINDOWS, restore_limiter
from server.accounting.tiers import load_tiers, windows_for
from server.database.records import ApiKey, LedgerEntry
from server.database.sqlite import SqliteStore
from server.limits import Admitted, InProcessLimiter, Refused, WindowLimit

NOW = 1_800_000_000  # a fixed wall-clock "now" (2027-01-15), unrelated to the limiter's clock
LIMITS = [WindowLimit("minute", 10, 60), WindowLimit("day", 10, 86400)]


def row(key_id: str, ago_s: int, n: int, delivered: int, status: str = "ok", error: str = "") -> LedgerEntry:
    at = NOW - ago_s
    return LedgerEntry(id=f"led_{key_id}_{ago_s}_{status}_{n}", request_id="req", key_id=key_id, mode="test",
                       model="dall-e-2", provider="sandbox", upstream_model="dall-e-2", n_requested=n,
                       n_delivered=delivered, size="256x256", quality="standard", cost_micros=0, billed_micros=0,
                       latency_ms=5, status=status, error_type=error, end_user="", created_at=at,
                       day=time.strftime("%Y-%m-%d", time.gmtime(at)))


ROWS = [
    row("key_a", 5, 3, 3),                                   # settled: counts 3
    row("key_a", 5, 2, 1),                                   # settled, an image withheld: counts the 2 reserved
    row("key_a", 30, 2, 0, "error", "upstream_error"),       # released: nothing
    row("key_a", 40, 4, 0, "error", "rate_limit_exceeded"),  # refused: nothing was reserved
    row("key_a", 50, 2, 2, "error", "cancelled"),            # cancelled while settling: stays counted
    row("key_a", 60, 4, 0, "replayed"),                      # an Idempotency-Key replay reserved nothing
    row("key_a", 3600, 1, 1),                                # an hour ago: the day only
    row("key_a", 86_400 + 120, 5, 5),                        # more than a day ago: nothing
    row("key_b", 90_000 - 86_400, 1, 1),
]


def test_only_settled_reservations_of_the_last_day_are_counted(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> dict[str, dict[int, int]]:
        store = await open_store()
        try:
            for entry in ROWS:
                await store.record(entry)
            rows = await store.admitted_images(NOW - 86_400 - 60, NOW - 120)
        finally:
            await store.close()
        out: dict[str, dict[int, int]] = {}
        for r in rows:
            out.setdefault(r.key_id, {})[r.until] = r.images
        return out

    # recent rows: their second + 1; older ones: the end of their minute
    hour_ago = NOW - 3600
    assert asyncio.run(scenario()) == {
        "key_a": {NOW - 4: 5, NOW - 49: 2, hour_ago - hour_ago % 60 + 60: 1},
        "key_b": {(NOW - 3600) - (NOW - 3600) % 60 + 60: 1},
    }


def test_restored_images_count_in_both_windows_from_their_wall_clock_age(tmp_path: Path) -> None:
    """The limiter's clock is monotonic (here 5,000 s); ledger times are mapped by their age."""

    async def scenario() -> None:
        store = SqliteStore(tmp_path / "db.sqlite3")
        for entry in ROWS:
            await store.record(entry)
        mono = [5000.0]
        limiter = InProcessLimiter(lambda: mono[0])
        assert await restore_limiter(store, limiter, wall_now=NOW) == 2
        await store.close()
        states = await limiter.peek("key_a", LIMITS)
        # minute: 5 + 2 (the cancelled one); day: those and the one an hour ago
        assert [s.remaining for s in states] == [3, 2]
        # 3 more: the image of an hour ago must go (its group ends with its minute)
        refused = await limiter.reserve("key_a", 3, LIMITS)
        assert isinstance(refused, Refused) and refused.window == "day"
        assert 86_400 - 3600 <= refused.retry_after_s <= 86_400 - 3540 + 600
        # 6 more: the 5 of 5 s ago must go too; never before 24 h after them, at most a bucket later
        refused = await limiter.reserve("key_a", 6, LIMITS)
        assert isinstance(refused, Refused) and refused.window == "day"
        assert 86_400 - 5 <= refused.retry_after_s <= 86_400 + 600
        # in the minute: 4 more wait for the 2 of 49 s ago, 6 more for the 5 of 5 s ago as well
        minute = await limiter.reserve("key_a", 4, [LIMITS[0]])
        assert isinstance(minute, Refused) and 60 - 50 <= minute.retry_after_s <= 60 - 49 + 1
        minute = await limiter.reserve("key_a", 6, [LIMITS[0]])
        assert isinstance(minute, Refused) and 60 - 5 <= minute.retry_after_s <= 60 - 4 + 1
        mono[0] += 57  # the minute has forgotten both rows; the day has not
        assert [s.remaining for s in await limiter.peek("key_a", LIMITS)] == [10, 2]
        assert isinstance(await limiter.reserve("key_a", 2, LIMITS), Admitted)

    asyncio.run(scenario())


def test_restore_uses_the_window_names_keys_have() -> None:
    key = ApiKey(id="k", mode="test", tier="free", name="", hint="", created_at=0, revoked_at=None)
    assert {w.name: w.window_s for w in windows_for(key, load_tiers())} == WINDOWS
