"""The group writer (server/database/group_writer.py): a lone row goes alone, rows that gather while a
statement is in flight go as one, a failing batch is retried row by row; and PostgreSQL's ledger rows
written that way come back exactly as written, on both stores."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from server.database import Store, queries
from server.database.group_writer import GroupWriter
from server.database.records import LedgerEntry


class Recorder:
    """Statements as lists of rows; a row "bad" makes any statement holding it fail."""

    def __init__(self) -> None:
        self.statements: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def one(self, row: str) -> None:
        await self.many([row])

    async def many(self, rows: Sequence[str]) -> None:
        await self.gate.wait()
        await asyncio.sleep(0)
        if "bad" in rows:
            raise ValueError("bad row")
        self.statements.append(list(rows))


def test_a_lone_row_goes_alone_and_rows_that_gather_go_as_one_statement() -> None:
    async def scenario() -> list[list[str]]:
        recorder = Recorder()
        writer = GroupWriter(recorder.one, recorder.many)
        await writer.write("a")
        recorder.gate.clear()
        first = asyncio.ensure_future(writer.write("b"))
        await asyncio.sleep(0)  # "b" is in flight, held at the gate
        rest = [asyncio.ensure_future(writer.write(row)) for row in ("c", "d", "e")]
        await asyncio.sleep(0)
        assert not any(task.done() for task in (first, *rest))  # nobody returns before their commit
        recorder.gate.set()
        await asyncio.gather(first, *rest)
        await writer.write("f")  # idle again: alone
        return recorder.statements

    assert asyncio.run(scenario()) == [["a"], ["b"], ["c", "d", "e"], ["f"]]


def test_a_failing_batch_is_retried_row_by_row_and_fails_only_its_bad_row() -> None:
    async def scenario() -> tuple[list[object], list[list[str]]]:
        recorder = Recorder()
        writer = GroupWriter(recorder.one, recorder.many)
        recorder.gate.clear()
        first = asyncio.ensure_future(writer.write("a"))
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(writer.write(row)) for row in ("b", "bad", "c")]
        await asyncio.sleep(0)
        recorder.gate.set()
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        return [type(o).__name__ if isinstance(o, BaseException) else o for o in outcomes], recorder.statements

    outcomes, statements = asyncio.run(scenario())
    assert outcomes == [None, None, "ValueError", None]
    assert statements == [["a"], ["b"], ["c"]]


def test_the_ledger_columns_are_the_entry_fields_in_order() -> None:
    # Both the single and the multi-row INSERT pass an entry's fields positionally.
    assert queries.LEDGER_COLUMNS.split(", ") == [field.name for field in dataclasses.fields(LedgerEntry)]


def entry(i: int) -> LedgerEntry:
    return LedgerEntry(id=f"led_{i:04d}", request_id=f"req_{i}", key_id="key_w", mode="live", model="dall-e-3",
                       provider="openai", upstream_model="dall-e-3", n_requested=2, n_delivered=i % 3,
                       size="1024x1024", quality="hd", cost_micros=80_000 + i, billed_micros=80_000 + i,
                       latency_ms=i, status="ok" if i % 2 else "error", error_type="" if i % 2 else "upstream_error",
                       end_user=f"user {i} ✓", created_at=1_796_000_000 + i, day="2026-12-02", deployment="openai",
                       upstream_cost_micros=i * 7, kind="edit", prompt=f"prompt {i}\n", images='["img_x.png"]')


async def rows_of(store: Store) -> list[tuple[object, ...]]:
    sql = f"SELECT {queries.LEDGER_COLUMNS} FROM usage_ledger ORDER BY id"
    pool = getattr(store, "_pool", None)
    if pool is not None:
        return [tuple(row) for row in await pool.fetch(sql)]
    return [tuple(row) for row in store._reader.execute(sql).fetchall()]  # type: ignore[attr-defined]


def test_rows_written_together_come_back_exactly_and_a_repeated_id_lands_once(open_store, caplog) -> None:  # type: ignore[no-untyped-def]
    batches: list[int] = []

    async def scenario() -> list[tuple[object, ...]]:
        store = await open_store()
        writer = getattr(store, "_ledger", None)  # PostgreSQL's group writer; SQLite groups commits itself
        if writer is not None:
            many = writer._write_many

            async def counted(rows: Sequence[LedgerEntry]) -> None:
                batches.append(len(rows))
                await many(rows)
            writer._write_many = counted
        try:
            entries = [entry(i) for i in range(40)]
            # 40 at once, plus a spool replay of one of them in the same crowd.
            await asyncio.gather(*(store.record(e) for e in entries), store.record(entries[7]))
            return await rows_of(store)
        finally:
            await store.close()

    rows = asyncio.run(scenario())
    assert rows == [tuple(dataclasses.astuple(entry(i))) for i in range(40)]
    assert "retrying them one by one" not in caplog.text  # the multi-row statement itself wrote them
    if batches:
        assert sum(batches) == 40  # all but the first went together


@pytest.mark.parametrize("size", [1, 16])
def test_a_cancelled_caller_does_not_stop_its_row(size: int) -> None:
    async def scenario() -> list[list[str]]:
        recorder = Recorder()
        writer = GroupWriter(recorder.one, recorder.many)
        recorder.gate.clear()
        first = asyncio.ensure_future(writer.write("a"))
        await asyncio.sleep(0)
        waiting = [asyncio.ensure_future(writer.write(f"r{i}")) for i in range(size)]
        await asyncio.sleep(0)
        waiting[0].cancel()
        recorder.gate.set()
        await asyncio.gather(first, *waiting, return_exceptions=True)
        await asyncio.sleep(0)
        return recorder.statements

    assert asyncio.run(scenario()) == [["a"], [f"r{i}" for i in range(size)]]
