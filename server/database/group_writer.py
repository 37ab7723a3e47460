"""Rows written to PostgreSQL a statement at a time, whatever gathered meanwhile going as one.

Each ledger row is its own INSERT and its own commit, and with 16 requests at a time those single
statements cost more than the rows: asyncpg's per-statement work in this process and PostgreSQL's
per-commit work in its backends. A multi-row INSERT of 16 rows costs about a third of that per row
(measured beside single statements, 16 writers at once: ~240 → ~90 µs client CPU and ~240 → ~75 µs
PostgreSQL CPU per row).

So a writer keeps one statement in flight. A row arriving while it is idle goes alone, at once, in
its caller's task: a lone request pays nothing extra. Rows arriving while a statement is in flight
wait and then go together as the next statement, and each caller returns only after the commit
that holds its row, as before. If a multi-row statement fails, each of its rows is retried alone,
so one row that cannot be written fails only its own caller.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Row = TypeVar("Row")
log = logging.getLogger("perf.database")


class GroupWriter(Generic[Row]):
    def __init__(self, write_one: Callable[[Row], Awaitable[None]],
                 write_many: Callable[[Sequence[Row]], Awaitable[None]]) -> None:
        self._write_one = write_one
        self._write_many = write_many
        self._waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self._busy = False
        self._drainer: asyncio.Task[None] | None = None  # held so the task cannot be collected mid-write

    async def write(self, row: Row) -> None:
        """Returns once `row` is committed; raises what writing it alone raised."""
        if self._busy:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((row, future))
            await future
            return
        self._busy = True
        try:
            await self._write_one(row)
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        """The statement in flight ended: the rows that gathered meanwhile go next, or the writer is idle."""
        if self._waiting:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        else:
            self._busy = False

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write_batch(batch)
        finally:
            self._busy = False
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:  # only when this task was cancelled (the loop shutting down)
                future.cancel()

    async def _write_batch(self, batch: list[tuple[Row, asyncio.Future[None]]]) -> None:
        if len(batch) > 1:
            try:
                await self._write_many([row for row, _ in batch])
            except Exception:  # one statement is all or nothing: retry the rows one by one below
                log.warning("a write of %d rows failed; retrying them one by one", len(batch), exc_info=True)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                return
        for row, future in batch:
            try:
                await self._write_one(row)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(None)
