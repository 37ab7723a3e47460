"""Reservations against the real embedded store and limiter: cancellation, leases, outages."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from server.accounting.holds import Accountant, month_of
from server.accounting.tiers import load_tiers
from server.database.records import ApiKey
from server.database.sqlite import SqliteStore
from server.errors import ProviderUnavailable
from server.limits import InProcessLimiter
from server.limits.redis import RedisLimiter
from server.providers.upstream import retry_after

KEY = ApiKey(id="key_t", mode="live", tier="enterprise", name="", hint="", created_at=0, revoked_at=None,
             minute_limit=100, day_limit=100, monthly_cap_micros=1_000_000)




def test_cancelled_while_reserving_money_gives_it_back(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        store = SqliteStore(tmp_path / "db.sqlite3")
        accountant = Accountant(InProcessLimiter(), store, load_tiers(), lease_s=900)
        task = asyncio.create_task(accountant.reserve(KEY, 1, 40_000))
        await asyncio.sleep(0)  # the money reservation is queued for the writer thread, not yet committed
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await accountant.tasks.drain(5)
        spend = await store.month_spend(KEY.id, month_of(time.time()))
        await store.close()
        return spend

    assert asyncio.run(scenario()) == (0, 0)


def test_an_orphaned_hold_is_moved_to_spent_when_its_lease_ends(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[int, int]]:
        store = SqliteStore(tmp_path / "db.sqlite3")
        accountant = Accountant(InProcessLimiter(), store, load_tiers(), lease_s=0)
        await accountant.reserve(KEY, 1, 40_000)  # never settled: its replica "died"
        month = month_of(time.time())
        seen = [await store.month_spend(KEY.id, month)]
        await asyncio.sleep(1.1)
        await store.expire_spend_holds(int(time.time()))  # the sweeper's move
        seen.append(await store.month_spend(KEY.id, month))
        second = await accountant.reserve(KEY, 1, 40_000)
        seen.append(await store.month_spend(KEY.id, month))
        settles = await accountant.settle(second, 40_000)
        assert settles is not None and await accountant.settle(second, 40_000) is None  # settled once
        await accountant.settle_money(settles)  # as the pipeline does when there is no ledger row to carry it
        seen.append(await store.month_spend(KEY.id, month))
        await store.close()
        return seen

    # reserved → the orphan counted as spent → the new one reserved → both spent
    assert asyncio.run(scenario()) == [(0, 40_000), (40_000, 0), (40_000, 40_000), (80_000, 0)]


def test_an_unreachable_limiter_is_503_not_500(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SqliteStore(tmp_path / "db.sqlite3")
        limiter = RedisLimiter("redis://127.0.0.1:1/0", "perf:none:")
        try:
            with pytest.raises(ProviderUnavailable):
                await Accountant(limiter, store, load_tiers(), lease_s=900).reserve(KEY, 1, 40_000)
        finally:
            await limiter.close()
            await store.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "Mon, 99 Foo 2026 99:99:99 GMT", "soon"])
def test_nonsense_retry_after_is_ignored(value: str) -> None:
    assert retry_after({"retry-after": value}) is None
    assert retry_after({"retry-after-ms": value}) is None
