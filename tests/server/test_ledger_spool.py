"""The ledger spool: rows the store refused are kept on disk and land in the store exactly once."""
from __future__ import annotations

import asyncio
import dataclasses
import fcntl
from pathlib import Path

import pytest

from server.accounting.spool import LedgerSpool
from server.database.records import LedgerEntry
from server.database.sqlite import SqliteStore
from tests.server.ledger_rows import ledger_entry


def entry(n: int) -> LedgerEntry:
    return ledger_entry(n)


def rows(store: SqliteStore) -> list[tuple[str, int]]:
    return store._reader.execute("SELECT id, billed_micros FROM usage_ledger ORDER BY id").fetchall()


def test_spooled_rows_replay_once_however_often_replay_runs(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, int]]:
        spool = LedgerSpool(tmp_path / "spool")
        for n in range(3):
            await spool.put(entry(n))
        assert spool.pending()
        store = SqliteStore(tmp_path / "db.sqlite3")
        try:
            await store.record(entry(1))  # one row already made it before the outage
            assert await spool.replay(store) == 3
            assert not spool.pending()
            await spool.put(entry(1))  # a duplicate spooled again must not double the row
            await spool.replay(store)
            assert await spool.replay(store) == 0
            return rows(store)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == [(entry(n).id, 40_000) for n in range(3)]


def test_a_failing_store_keeps_the_segment_for_the_next_round(tmp_path: Path) -> None:
    class Down:
        async def record(self, entry: LedgerEntry) -> None:
            raise OSError("connection refused")

    async def scenario() -> int:
        spool = LedgerSpool(tmp_path / "spool")
        await spool.put(entry(7))
        with pytest.raises(OSError):
            await spool.replay(Down())
        assert spool.pending()
        store = SqliteStore(tmp_path / "db.sqlite3")
        try:
            return await spool.replay(store)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == 1


def test_a_segment_another_process_appends_to_is_left_alone_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    busy = directory / "otherhost-1-1.jsonl"
    torn = directory / "otherhost-2-1.jsonl"
    import orjson

    good = orjson.dumps(dataclasses.asdict(entry(5))) + b"\n"
    busy.write_bytes(good)
    torn.write_bytes(orjson.dumps(dataclasses.asdict(entry(6))) + b"\n" + good[: len(good) // 2])

    async def scenario() -> list[tuple[str, int]]:
        store = SqliteStore(tmp_path / "db.sqlite3")
        with open(busy, "ab") as holder:
            fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # as a live appender holds it
            try:
                assert await LedgerSpool(directory).replay(store) == 1
            finally:
                fcntl.flock(holder.fileno(), fcntl.LOCK_UN)
        assert busy.exists() and not torn.exists()
        assert await LedgerSpool(directory).replay(store) == 1
        found = rows(store)
        await store.close()
        return found

    assert asyncio.run(scenario()) == [(entry(5).id, 40_000), (entry(6).id, 40_000)]
