"""The monthly spend reservation in each store: the cap check, settling once, and the sweep of expired holds.

PostgreSQL runs each of these as one statement (server/database/postgres.py), SQLite as a few in one
transaction; both must agree on every number, and neither may let concurrent reservations overspend."""
from __future__ import annotations

import asyncio

from server.database.records import SpendHold

MONTH = "2026-12"
CAP = 100_000


def hold(hold_id: str, micros: int, expires_at: int = 2_000_000_000, key_id: str = "key_s") -> SpendHold:
    return SpendHold(id=hold_id, key_id=key_id, month=MONTH, micros=micros, expires_at=expires_at)


def test_the_cap_counts_spent_and_reserved_and_settling_happens_once(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[object]:
        store = await open_store()
        try:
            seen: list[object] = [
                await store.reserve_spend(hold("h_big", CAP + 1), CAP),  # more than the cap on a month not yet begun
                await store.month_spend("key_s", MONTH),
                await store.reserve_spend(hold("h1", 60_000), CAP),
                await store.reserve_spend(hold("h2", 40_000), CAP),   # exactly up to the cap
                await store.reserve_spend(hold("h3", 1), CAP),        # one micro-dollar over
                await store.month_spend("key_s", MONTH),
                await store.settle_spend(hold("h1", 60_000), 25_000),  # delivered less than reserved
                await store.settle_spend(hold("h1", 60_000), 25_000),  # a second settle changes nothing
                await store.month_spend("key_s", MONTH),
                await store.reserve_spend(hold("h4", 35_000), CAP),   # room freed by the cheaper delivery
                await store.month_spend("key_s", MONTH),
            ]
        finally:
            await store.close()
        return seen

    assert asyncio.run(scenario()) == [False, (0, 0), True, True, False, (0, 100_000), True, False,
                                       (25_000, 40_000), True, (25_000, 75_000)]


def test_the_sweep_moves_only_expired_holds_to_spent_once(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[object]:
        store = await open_store()
        try:
            await store.reserve_spend(hold("old_a", 10_000, expires_at=100), CAP)
            await store.reserve_spend(hold("old_b", 5_000, expires_at=150), CAP)
            await store.reserve_spend(hold("live", 20_000, expires_at=10_000), CAP)
            await store.reserve_spend(hold("other", 7_000, expires_at=100, key_id="key_o"), CAP)
            seen: list[object] = [
                await store.expire_spend_holds(200),          # two key-months had expired holds
                await store.month_spend("key_s", MONTH),
                await store.month_spend("key_o", MONTH),
                await store.expire_spend_holds(200),          # nothing left to move
                await store.settle_spend(hold("old_a", 10_000), 10_000),  # its request came back too late
                await store.settle_spend(hold("live", 20_000), 20_000),
                await store.month_spend("key_s", MONTH),
            ]
        finally:
            await store.close()
        return seen

    assert asyncio.run(scenario()) == [2, (15_000, 20_000), (7_000, 0), 0, False, True, (35_000, 0)]


def test_concurrent_reservations_never_pass_the_cap(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[int, tuple[int, int]]:
        store = await open_store()
        try:
            # 40 reservations of 7,000 race for a cap of 100,000: exactly 14 fit, whoever wins.
            admitted = await asyncio.gather(*(store.reserve_spend(hold(f"c{i}", 7_000), CAP) for i in range(40)))
            return sum(admitted), await store.month_spend("key_s", MONTH)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (14, (0, 98_000))
