"""The monthly spend reservation in each store: the cap check, settling once, and the sweep of expired holds.

PostgreSQL runs each of these as one statement (server/database/postgres.py), SQLite as a few in one
transaction; both must agree on every number, and neither may let concurrent reservations overspend."""
from __future__ import annotations

import asyncio
import logging

import pytest

from server.accounting.spend_writer import SpendWriter
from server.database import Store
from server.database.records import LedgerEntry, SpendHold
from server.runtime.tasks import TaskTracker
from tests.server.ledger_rows import ledger_entry

MONTH = "2026-12"
CAP = 100_000


def hold(hold_id: str, micros: int, expires_at: int = 2_000_000_000, key_id: str = "key_s") -> SpendHold:
    return SpendHold(id=hold_id, key_id=key_id, month=MONTH, micros=micros, expires_at=expires_at)


async def settled(store: Store, one: SpendHold, spent: int) -> bool:
    return await store.settle_spend([(one, spent)]) == {one.id}


def test_the_cap_counts_spent_and_reserved_and_settling_happens_once(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[object]:
        store = await open_store()
        try:
            seen: list[object] = [
                await store.reserve_spend([hold("h_big", CAP + 1)], CAP),  # more than the cap on a month not yet begun
                await store.month_spend("key_s", MONTH),
                await store.reserve_spend([hold("h1", 60_000)], CAP),
                await store.reserve_spend([hold("h2", 40_000)], CAP),   # exactly up to the cap
                await store.reserve_spend([hold("h3", 1)], CAP),        # one micro-dollar over
                await store.month_spend("key_s", MONTH),
                await settled(store, hold("h1", 60_000), 25_000),  # delivered less than reserved
                await settled(store, hold("h1", 60_000), 25_000),  # a second settle changes nothing
                await store.month_spend("key_s", MONTH),
                await store.reserve_spend([hold("h4", 35_000)], CAP),   # room freed by the cheaper delivery
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
            await store.reserve_spend([hold("old_a", 10_000, expires_at=100)], CAP)
            await store.reserve_spend([hold("old_b", 5_000, expires_at=150)], CAP)
            await store.reserve_spend([hold("live", 20_000, expires_at=10_000)], CAP)
            await store.reserve_spend([hold("other", 7_000, expires_at=100, key_id="key_o")], CAP)
            seen: list[object] = [
                await store.expire_spend_holds(200),          # two key-months had expired holds
                await store.month_spend("key_s", MONTH),
                await store.month_spend("key_o", MONTH),
                await store.expire_spend_holds(200),          # nothing left to move
                await settled(store, hold("old_a", 10_000), 10_000),  # its request came back too late
                await settled(store, hold("live", 20_000), 20_000),
                await store.month_spend("key_s", MONTH),
            ]
        finally:
            await store.close()
        return seen

    assert asyncio.run(scenario()) == [2, (15_000, 20_000), (7_000, 0), 0, False, True, (35_000, 0)]


def test_a_ledger_row_settling_an_expired_hold_is_kept_and_says_so(open_store, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[int, tuple[int, int]]:
        store = await open_store()
        try:
            await store.reserve_spend([hold("late", 10_000, expires_at=100)], CAP)
            await store.expire_spend_holds(200)  # the lease ran out: the whole hold counts as spent
            await store.record(ledger_entry(1, billed_micros=4_000), (hold("late", 10_000), 4_000))
            return len(await store.usage("2026-11-30", "2026-11-30")), await store.month_spend("key_s", MONTH)
        finally:
            await store.close()

    with caplog.at_level(logging.WARNING, logger="perf.accounting"):
        assert asyncio.run(scenario()) == (1, (10_000, 0))
    assert "spend hold late for key=key_s had expired before it settled" in caplog.text


def test_a_batch_of_holds_is_reserved_all_or_none(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[object]:
        store = await open_store()
        try:
            return [
                await store.reserve_spend([hold("a", 50_000), hold("b", 50_001)], CAP),  # together over the cap
                await store.month_spend("key_s", MONTH),
                await store.reserve_spend([hold("a", 50_000), hold("b", 50_000)], CAP),
                await store.month_spend("key_s", MONTH),
                await store.settle_spend([(hold("a", 50_000), 30_000), (hold("b", 50_000), 50_000),
                                          (hold("never", 1), 1)]),
                await store.month_spend("key_s", MONTH),
            ]
        finally:
            await store.close()

    assert asyncio.run(scenario()) == [False, (0, 0), True, (0, 100_000), {"a", "b"}, (80_000, 0)]


def test_concurrent_reservations_never_pass_the_cap(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[int, tuple[int, int]]:
        store = await open_store()
        try:
            # 40 reservations of 7,000 race for a cap of 100,000: exactly 14 fit, whoever wins.
            admitted = await asyncio.gather(*(store.reserve_spend([hold(f"c{i}", 7_000)], CAP) for i in range(40)))
            return sum(admitted), await store.month_spend("key_s", MONTH)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (14, (0, 98_000))


def test_the_writer_batches_a_key_yet_refuses_only_what_alone_does_not_fit(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[list[bool], tuple[int, int], list[bool], tuple[int, int]]:
        store = await open_store()
        tasks = TaskTracker()
        writer = SpendWriter(store, tasks)
        try:
            # 9,000 each, then one of 1,000 last: the batch does not fit, so each is tried alone;
            # 11 of 9,000 fit (99,000) and the 1,000 still fits after them.
            holds = [hold(f"w{i}", 9_000) for i in range(20)] + [hold("small", 1_000)]
            admitted = await asyncio.gather(*(writer.reserve(h, CAP) for h in holds))
            reserved = await store.month_spend("key_s", MONTH)
            kept = [h for h, ok in zip(holds, admitted, strict=True) if ok]
            settled = await asyncio.gather(*(writer.settle(h, 4_000) for h in kept))
            await tasks.drain(5)
            return list(admitted), reserved, list(settled), await store.month_spend("key_s", MONTH)
        finally:
            await store.close()

    admitted, reserved, settled, after = asyncio.run(scenario())
    assert (sum(admitted[:20]), admitted[20]) == (11, True)
    assert reserved == (0, 100_000)
    assert settled == [True] * 12 and after == (48_000, 0)


def ledger_row(n: int) -> LedgerEntry:
    return ledger_entry(n, day="2026-12-01")


def test_a_ledger_row_settles_its_hold_in_the_same_write_once(open_store) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[object]:
        store = await open_store()
        try:
            assert await store.reserve_spend([hold("r1", 60_000)], CAP)
            assert await store.reserve_spend([hold("r2", 40_000)], CAP)
            # At once, so PostgreSQL's writer takes the later ones as one statement: rows with and
            # without a hold, and one whose hold is not there (swept, or settled already).
            await asyncio.gather(store.record(ledger_row(1), (hold("r1", 60_000), 25_000)),
                                 store.record(ledger_row(2), (hold("r2", 40_000), 40_000)),
                                 store.record(ledger_row(3)),
                                 store.record(ledger_row(4), (hold("gone", 5_000), 5_000)))
            seen: list[object] = [await store.month_spend("key_s", MONTH)]
            await store.record(ledger_row(1), (hold("r1", 60_000), 25_000))  # a replayed row: nothing twice
            seen += [await store.month_spend("key_s", MONTH), await settled(store, hold("r2", 40_000), 40_000)]
            usage = await store.usage("2026-12-01", "2026-12-01")
            seen.append(sum(row.requests for row in usage))
        finally:
            await store.close()
        return seen

    assert asyncio.run(scenario()) == [(65_000, 0), (65_000, 0), False, 4]
