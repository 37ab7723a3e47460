"""The embedded store's writer thread (server/database/sqlite.py): the writes one loop turn makes
commit together, a failing write fails only itself, and nothing handed to the store is lost at close."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.database.records import ApiKey
from server.database.sqlite import SqliteStore


def key(n: int) -> ApiKey:
    return ApiKey(id=f"key_{n}", mode="live", tier="free", name="", hint="pk_live_…", created_at=0, revoked_at=None)


def key_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT id FROM api_keys")}


def test_writes_of_one_turn_commit_together_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "perf.db"
    batches: list[int] = []

    async def scenario() -> list[object]:
        store = SqliteStore(path)
        commit = store._commit
        store._commit = lambda batch: (batches.append(len(batch)), commit(batch))[1]  # type: ignore[method-assign]
        try:
            await store.insert_key(key(0), "digest_0")
            # Ten keys in one turn, the fifth a duplicate of the key above: its primary key refuses it.
            keys = [key(n) for n in range(1, 10)]
            keys.insert(4, key(0))
            return await asyncio.gather(*(store.insert_key(k, f"digest_{n}") for n, k in enumerate(keys, 100)),
                                        return_exceptions=True)
        finally:
            await store.close()

    outcomes = asyncio.run(scenario())
    assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 4 + ["IntegrityError"] + ["NoneType"] * 5
    assert key_ids(path) == {f"key_{n}" for n in range(10)}
    assert batches[0] == 1 and sum(batches[1:]) == 10 and len(batches) <= 3  # one turn: one batch, not ten


def test_a_lone_failing_write_leaves_the_store_writable(tmp_path: Path) -> None:
    path = tmp_path / "perf.db"

    async def scenario() -> None:
        store = SqliteStore(path)
        try:
            await store.insert_key(key(1), "digest_1")
            with pytest.raises(sqlite3.IntegrityError):
                await store.insert_key(key(1), "digest_2")
            await store.insert_key(key(2), "digest_3")  # the failed write's transaction was rolled back
        finally:
            await store.close()

    asyncio.run(scenario())
    assert key_ids(path) == {"key_1", "key_2"}


def test_writes_made_in_the_turn_that_closes_the_store_still_commit(tmp_path: Path) -> None:
    path = tmp_path / "perf.db"

    async def scenario() -> None:
        store = SqliteStore(path)
        pending = [asyncio.ensure_future(store.insert_key(key(n), f"digest_{n}")) for n in range(5)]
        await asyncio.sleep(0)  # each write has queued itself in this turn; none has been handed over
        await store.close()
        await asyncio.wait_for(asyncio.gather(*pending), 10)  # a write lost at close would hang here

    asyncio.run(scenario())
    assert key_ids(path) == {f"key_{n}" for n in range(5)}
