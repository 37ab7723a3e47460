"""The embedded store: one SQLite file in WAL mode, schema from versioned migrations.

Reads are single indexed lookups that take microseconds, so they run inline on the event loop.
Writes commit with a full fsync (a lost ledger row is a bug), so they run on one writer thread
with group commit: every write waiting when the thread comes round goes into one transaction and
one fsync, and each caller is answered only after that commit. Under concurrency this turns one
fsync per write into one per batch without weakening "written before the response leaves".
Both crossings between the loop and the thread are batched too: the writes one loop turn makes go
to the thread as one hand-over, and a batch's results come back in one wake-up of the loop, since
each crossing wakes a thread and contends for the GIL.
"""
from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from server.database import queries as q
from server.database.admin_sqlite import SqliteAdmin
from server.database.job_sqlite import SqliteJobs
from server.database.migrations import migrations, sql_statements
from server.database.records import (
    AdmittedImages,
    ApiKey,
    IdempotencyRecord,
    LedgerEntry,
    Settlement,
    SpendHold,
    UsageRow,
)

T = TypeVar("T")
_MAX_BATCH = 256


@dataclass
class _Write:
    work: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Outcome = tuple[_Write, Any, "BaseException | None"]


def _resolve(outcomes: list[_Outcome]) -> None:
    for write, result, error in outcomes:
        if write.future.cancelled():
            continue
        if error is not None:
            write.future.set_exception(error)
        else:
            write.future.set_result(result)


class SqliteStore(SqliteAdmin, SqliteJobs):  # the admin API's and jobs' queries live in admin_/job_sqlite.py
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect(path)
        self._migrate()
        self._reader = self._connect(path)
        self._closed = False
        self._writes: queue.SimpleQueue[list[_Write] | None] = queue.SimpleQueue()
        self._turn: list[_Write] = []  # writes made during this loop turn, handed over at its end
        self._writer_thread = threading.Thread(target=self._write_batches, name="sqlite-writer", daemon=True)
        self._writer_thread.start()

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def _migrate(self) -> None:
        db = self._writer
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT)")
        for version, sql in migrations():
            # BEGIN IMMEDIATE: two processes starting together must not both apply a migration.
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    db.execute("ROLLBACK")
                    continue
                for statement in sql_statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, int(time.time())))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._turn and self._turn[0].loop is not loop:
            self._hand_over()  # a turn left by an earlier event loop (tests run one per case) goes now
        if not self._turn:
            loop.call_soon(self._hand_over)
        self._turn.append(_Write(work, loop, future))
        return await future

    def _hand_over(self) -> None:
        turn, self._turn = self._turn, []
        if turn:  # close() may have handed this turn over already
            self._writes.put(turn)

    def _write_batches(self) -> None:
        while True:
            first = self._writes.get()
            if first is None:
                return
            batch = first
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._writes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._writes.put(None)  # finish this batch, then stop
                    break
                batch.extend(more)
            self._commit(batch)

    def _commit(self, batch: list[_Write]) -> None:
        db = self._writer
        try:
            db.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:  # alone in its transaction: no neighbours to shield with a savepoint
                outcomes: list[_Outcome] = [(batch[0], batch[0].work(db), None)]
            else:
                outcomes = [_apply_isolated(db, write) for write in batch]
            db.execute("COMMIT")
        except Exception as batch_failed:
            if db.in_transaction:
                db.execute("ROLLBACK")
            outcomes = [(write, None, batch_failed) for write in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, answered in by_loop.items():
            loop.call_soon_threadsafe(_resolve, answered)

    async def _execute(self, sql: str, args: tuple[Any, ...]) -> int:
        return await self._write(lambda db: db.execute(sql, args).rowcount)

    async def find_key(self, digest: str) -> ApiKey | None:
        row = self._reader.execute(q.FIND_KEY, (digest,)).fetchone()
        return ApiKey(*row) if row else None

    async def get_key(self, key_id: str) -> ApiKey | None:
        row = self._reader.execute(q.GET_KEY, (key_id,)).fetchone()
        return ApiKey(*row) if row else None

    async def insert_key(self, key: ApiKey, digest: str) -> None:
        await self._execute(q.INSERT_KEY, (key.id, key.mode, key.tier, key.name, key.hint, key.created_at,
                                           key.revoked_at, key.minute_limit, key.day_limit,
                                           key.monthly_cap_micros, bool(key.operator), digest))

    async def revoke_key(self, key_id: str, now: int) -> bool:
        return await self._execute(q.REVOKE_KEY, (now, key_id)) == 1

    async def rotate_key(self, key_id: str, digest: str, hint: str) -> bool:
        return await self._execute(q.ROTATE_KEY, (digest, hint, key_id)) == 1

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row) for row in self._reader.execute(q.LIST_KEYS)]

    async def count_keys(self) -> int:
        return int(self._reader.execute(q.COUNT_KEYS).fetchone()[0])

    async def record(self, entry: LedgerEntry, settles: Settlement | None = None) -> None:
        row = tuple(entry.__dict__.values())
        if settles is None:
            await self._execute(q.INSERT_LEDGER, row)
            return

        def record_and_settle(db: sqlite3.Connection) -> set[str]:
            db.execute(q.INSERT_LEDGER, row)
            return _settle(db, [settles])

        if not await self._write(record_and_settle):
            settles[0].warn_expired()

    async def usage(self, start_day: str, end_day: str, key_id: str | None = None) -> list[UsageRow]:
        sql = q.USAGE.format(key_filter="AND key_id = ?" if key_id else "")
        args = (start_day, end_day, key_id) if key_id else (start_day, end_day)
        return [UsageRow(*row) for row in self._reader.execute(sql, args)]

    async def admitted_images(self, since: int, fine_since: int) -> list[AdmittedImages]:
        """Images admitted per key since ``since`` (unix s), per second from ``fine_since``, per minute before."""
        args = (fine_since, time.strftime("%Y-%m-%d", time.gmtime(since)), since)
        return [AdmittedImages(*row) for row in self._reader.execute(q.ADMITTED_IMAGES, args)]

    async def reserve_spend(self, holds: Sequence[SpendHold], cap_micros: int) -> bool:
        def reserve(db: sqlite3.Connection) -> bool:
            args, total = (holds[0].key_id, holds[0].month), sum(h.micros for h in holds)
            if db.execute(q.RESERVE_SPEND, (*args, total, total, cap_micros, cap_micros)).rowcount != 1:
                return False
            db.executemany(q.INSERT_HOLD, [(h.id, *args, h.micros, h.expires_at) for h in holds])
            return True

        return await self._write(reserve)

    async def settle_spend(self, settlements: Sequence[Settlement]) -> set[str]:
        return await self._write(lambda db: _settle(db, settlements))

    async def expire_spend_holds(self, now: int) -> int:
        def expire(db: sqlite3.Connection) -> int:
            expired = db.execute(q.EXPIRED_HOLDS, (now,)).fetchall()
            db.execute(q.DELETE_EXPIRED_HOLDS, (now,))
            for key_id, month, micros in expired:
                db.execute(q.SETTLE_SPEND, (micros, micros, key_id, month))
            return len(expired)

        return await self._write(expire)

    async def claim_idempotency(self, record: IdempotencyRecord, now: int) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            r = record
            if db.execute(q.CLAIM_IDEMPOTENCY, (r.key_id, r.idem_key, r.fingerprint, r.request_id, r.created_at,
                                                r.lease_until)).rowcount == 1:
                return True
            return db.execute(q.TAKE_OVER_IDEMPOTENCY, (r.fingerprint, r.request_id, r.created_at, r.lease_until,
                                                        r.key_id, r.idem_key, now)).rowcount == 1

        return await self._write(claim)

    async def get_idempotency(self, key_id: str, idem_key: str) -> IdempotencyRecord | None:
        row = self._reader.execute(q.GET_IDEMPOTENCY, (key_id, idem_key)).fetchone()
        return IdempotencyRecord(*row) if row else None

    async def complete_idempotency(self, key_id: str, idem_key: str, request_id: str, response: bytes) -> None:
        await self._execute(q.COMPLETE_IDEMPOTENCY, (response, key_id, idem_key, request_id))

    async def release_idempotency(self, key_id: str, idem_key: str, request_id: str) -> None:
        await self._execute(q.RELEASE_IDEMPOTENCY, (key_id, idem_key, request_id))

    async def purge_idempotency(self, created_before: int) -> int:
        return await self._execute(q.PURGE_IDEMPOTENCY, (created_before,))

    async def month_spend(self, key_id: str, month: str) -> tuple[int, int]:
        row = self._reader.execute(q.MONTH_SPEND, (key_id, month)).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def close(self) -> None:
        self._closed = True
        self._hand_over()  # writes made in this very turn go before the stop
        self._writes.put(None)
        await asyncio.to_thread(self._writer_thread.join)
        self._reader.close()
        self._writer.close()


def _apply_isolated(db: sqlite3.Connection, write: _Write) -> _Outcome:
    # A savepoint per write: one failing statement must not undo its neighbours in the batch.
    db.execute("SAVEPOINT w")
    try:
        result = write.work(db)
    except Exception as failed:
        db.execute("ROLLBACK TO w")
        db.execute("RELEASE w")
        return write, None, failed
    db.execute("RELEASE w")
    return write, result, None


def _settle(db: sqlite3.Connection, settlements: Sequence[Settlement]) -> set[str]:
    settled = set()
    for hold, spent_micros in settlements:
        # A hold already expired (and moved to spent) or never committed has nothing left to settle.
        if db.execute(q.DELETE_HOLD, (hold.id,)).rowcount == 1:
            db.execute(q.SETTLE_SPEND, (hold.micros, spent_micros, hold.key_id, hold.month))
            settled.add(hold.id)
    return settled
