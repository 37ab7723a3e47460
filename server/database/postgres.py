"""The PostgreSQL store (asyncpg): the same schema, migrations and queries as the SQLite one."""
from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from server.database import queries as q
from server.database.admin_postgres import PostgresAdmin
from server.database.group_writer import GroupWriter
from server.database.job_postgres import PostgresJobs
from server.database.migrations import migrations
from server.database.records import (
    AdmittedImages,
    ApiKey,
    IdempotencyRecord,
    LedgerEntry,
    Settlement,
    SpendHold,
    UsageRow,
)

# A ledger row, and what its request spent of its money hold, if it had one (Store.record).
_LedgerWrite = tuple[LedgerEntry, Settlement | None]

# Any constant works; it only has to be the same for every replica applying migrations.
_MIGRATION_LOCK = 0x70657266


def _numbered(sql: str) -> str:
    """`?` placeholders → `$1, $2, …` (our SQL has no `?` inside literals)."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


_SQL = {name: _numbered(getattr(q, name)) for name in dir(q) if name.isupper() and name != "USAGE"}


# Spend statements written for PostgreSQL alone: data-modifying CTEs make each of them one statement,
# hence one round trip and one implicit transaction. The upsert locks the month's row, so concurrent
# reservations for a key take turns and each sees the others' (queries.py, RESERVE_SPEND). A batch of
# holds (server/accounting/spend_writer.py) is reserved all or none: the upsert adds their total.
_RESERVE_SPEND_AND_HOLDS = f"""
WITH reserved AS ({_numbered(q.RESERVE_SPEND)} RETURNING 1),
     holds AS (INSERT INTO spend_holds (id, key_id, month, micros, expires_at)
               SELECT h.id, $1, $2, h.micros, h.expires_at
               FROM unnest($7::text[], $8::bigint[], $9::bigint[]) AS h(id, micros, expires_at), reserved)
SELECT count(*) FROM reserved"""
# Deleting a hold decides who settles it: its request, or the sweeper once its lease is over.
_SETTLE_HOLDS_CTES = """
WITH done AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS d(id, spent)),
     settled AS (DELETE FROM spend_holds AS h USING done WHERE h.id = done.id
                 RETURNING h.id, h.key_id, h.month, h.micros, done.spent),
     per_month AS (SELECT key_id, month, sum(micros) AS micros, sum(spent) AS spent FROM settled
                   GROUP BY key_id, month),
     moved AS (UPDATE spend_months AS s SET reserved_micros = s.reserved_micros - per_month.micros,
                                            spent_micros = s.spent_micros + per_month.spent
               FROM per_month WHERE s.key_id = per_month.key_id AND s.month = per_month.month)"""
_SETTLE_HOLDS = _SETTLE_HOLDS_CTES + " SELECT id FROM settled"


def _ledger_rows(first: int) -> str:
    """Many ledger rows in one statement (group_writer.py): one array per column, unnested,
    the arrays as parameters `first`, `first` + 1, …"""
    arrays = ", ".join(f"${i}::{'bigint' if field.type == 'int' else 'text'}[]"
                       for i, field in enumerate(dataclasses.fields(LedgerEntry), first))
    return f"INSERT INTO usage_ledger ({q.LEDGER_COLUMNS}) SELECT * FROM unnest({arrays}) ON CONFLICT (id) DO NOTHING"


_INSERT_LEDGER_ROWS = _ledger_rows(1)
# Ledger rows and the money their requests spent, one statement: a capped request's settlement rides
# on its ledger row's round trip and commit instead of taking its own.
_INSERT_LEDGER_ROWS_AND_SETTLE = f"{_SETTLE_HOLDS_CTES}, recorded AS ({_ledger_rows(3)}) SELECT id FROM settled"
_EXPIRE_HOLDS = """
WITH expired AS (DELETE FROM spend_holds WHERE expires_at <= $1 RETURNING key_id, month, micros),
     per_month AS (SELECT key_id, month, sum(micros) AS micros FROM expired GROUP BY key_id, month)
UPDATE spend_months AS s SET reserved_micros = s.reserved_micros - per_month.micros,
                             spent_micros = s.spent_micros + per_month.micros
FROM per_month WHERE s.key_id = per_month.key_id AND s.month = per_month.month"""


def _count(status: str) -> int:
    """Rows affected, from a command status such as 'UPDATE 1'."""
    return int(status.rsplit(" ", 1)[-1])


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset between uses: nothing beyond asyncpg's own rollback of an unfinished transaction.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after
    every query: a second round trip per statement, for session state this store never creates (no SET,
    LISTEN, cursors or session advisory locks; the migration lock is per transaction)."""


class PostgresStore(PostgresAdmin, PostgresJobs):  # the admin API's and jobs' queries: admin_/job_postgres.py
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._ledger = GroupWriter(self._insert_ledger_row, self._insert_ledger_rows)

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 10) -> PostgresStore:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, reset=_keep_session)
        store = cls(pool)
        await store._migrate()
        return store

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Replicas starting together take turns; the loser then finds the work done.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                               "applied_at BIGINT)")
            done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, sql in migrations():
                if version not in done:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, int(time.time()))

    async def _status_count(self, sql: str, *args: Any) -> int:
        return _count(await self._pool.execute(sql, *args))

    async def find_key(self, digest: str) -> ApiKey | None:
        row = await self._pool.fetchrow(_SQL["FIND_KEY"], digest)
        return ApiKey(*row) if row else None

    async def get_key(self, key_id: str) -> ApiKey | None:
        row = await self._pool.fetchrow(_SQL["GET_KEY"], key_id)
        return ApiKey(*row) if row else None

    async def insert_key(self, key: ApiKey, digest: str) -> None:
        await self._pool.execute(_SQL["INSERT_KEY"], key.id, key.mode, key.tier, key.name, key.hint, key.created_at,
                                 key.revoked_at, key.minute_limit, key.day_limit, key.monthly_cap_micros, bool(key.operator), digest)

    async def revoke_key(self, key_id: str, now: int) -> bool:
        return await self._status_count(_SQL["REVOKE_KEY"], now, key_id) == 1

    async def rotate_key(self, key_id: str, digest: str, hint: str) -> bool:
        return await self._status_count(_SQL["ROTATE_KEY"], digest, hint, key_id) == 1

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row) for row in await self._pool.fetch(_SQL["LIST_KEYS"])]

    async def count_keys(self) -> int:
        return int(await self._pool.fetchval(_SQL["COUNT_KEYS"]))

    async def record(self, entry: LedgerEntry, settles: Settlement | None = None) -> None:
        await self._ledger.write((entry, settles))

    async def _insert_ledger_row(self, row: _LedgerWrite) -> None:
        entry, settles = row
        if settles is None:
            await self._pool.execute(_SQL["INSERT_LEDGER"], *entry.__dict__.values())
        else:
            await self._insert_ledger_rows([row])

    async def _insert_ledger_rows(self, rows: Sequence[_LedgerWrite]) -> None:
        columns = map(list, zip(*(entry.__dict__.values() for entry, _ in rows)))
        settles = [settles for _, settles in rows if settles is not None]
        if not settles:
            await self._pool.execute(_INSERT_LEDGER_ROWS, *columns)
            return
        settled = {row[0] for row in await self._pool.fetch(
            _INSERT_LEDGER_ROWS_AND_SETTLE, [hold.id for hold, _ in settles], [spent for _, spent in settles], *columns)}
        for hold, _ in settles:
            if hold.id not in settled:
                hold.warn_expired()

    async def usage(self, start_day: str, end_day: str, key_id: str | None = None) -> list[UsageRow]:
        sql = _numbered(q.USAGE.format(key_filter="AND key_id = ?" if key_id else ""))
        args = (start_day, end_day, key_id) if key_id else (start_day, end_day)
        return [UsageRow(*row) for row in await self._pool.fetch(sql, *args)]

    async def admitted_images(self, since: int, fine_since: int) -> list[AdmittedImages]:
        """Images admitted per key since ``since`` (unix s), per second from ``fine_since``, per minute before."""
        since_day = time.strftime("%Y-%m-%d", time.gmtime(since))
        rows = await self._pool.fetch(_SQL["ADMITTED_IMAGES"], fine_since, since_day, since)
        return [AdmittedImages(*row) for row in rows]

    async def reserve_spend(self, holds: Sequence[SpendHold], cap_micros: int) -> bool:
        first, total = holds[0], sum(h.micros for h in holds)
        admitted = await self._pool.fetchval(_RESERVE_SPEND_AND_HOLDS, first.key_id, first.month, total, total,
                                             cap_micros, cap_micros, [h.id for h in holds],
                                             [h.micros for h in holds], [h.expires_at for h in holds])
        return bool(admitted)

    async def settle_spend(self, settlements: Sequence[Settlement]) -> set[str]:
        rows = await self._pool.fetch(_SETTLE_HOLDS, [h.id for h, _ in settlements], [spent for _, spent in settlements])
        return {row[0] for row in rows}

    async def expire_spend_holds(self, now: int) -> int:
        return await self._status_count(_EXPIRE_HOLDS, now)

    async def claim_idempotency(self, record: IdempotencyRecord, now: int) -> bool:
        r = record
        async with self._pool.acquire() as conn, conn.transaction():
            if _count(await conn.execute(_SQL["CLAIM_IDEMPOTENCY"], r.key_id, r.idem_key, r.fingerprint,
                                         r.request_id, r.created_at, r.lease_until)) == 1:
                return True
            return _count(await conn.execute(_SQL["TAKE_OVER_IDEMPOTENCY"], r.fingerprint, r.request_id,
                                             r.created_at, r.lease_until, r.key_id, r.idem_key, now)) == 1

    async def get_idempotency(self, key_id: str, idem_key: str) -> IdempotencyRecord | None:
        row = await self._pool.fetchrow(_SQL["GET_IDEMPOTENCY"], key_id, idem_key)
        return IdempotencyRecord(*row) if row else None

    async def complete_idempotency(self, key_id: str, idem_key: str, request_id: str, response: bytes) -> None:
        await self._pool.execute(_SQL["COMPLETE_IDEMPOTENCY"], response, key_id, idem_key, request_id)

    async def release_idempotency(self, key_id: str, idem_key: str, request_id: str) -> None:
        await self._pool.execute(_SQL["RELEASE_IDEMPOTENCY"], key_id, idem_key, request_id)

    async def purge_idempotency(self, created_before: int) -> int:
        return await self._status_count(_SQL["PURGE_IDEMPOTENCY"], created_before)

    async def month_spend(self, key_id: str, month: str) -> tuple[int, int]:
        row = await self._pool.fetchrow(_SQL["MONTH_SPEND"], key_id, month)
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def close(self) -> None:
        await self._pool.close()
