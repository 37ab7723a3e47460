"""The PostgreSQL store (asyncpg): the same schema, migrations and queries as the SQLite one."""
from __future__ import annotations

import re
import time
from typing import Any

import asyncpg

from server.database import queries as q
from server.database.admin_postgres import PostgresAdmin
from server.database.job_postgres import PostgresJobs
from server.database.migrations import migrations
from server.database.records import (
    AdmittedImages,
    ApiKey,
    IdempotencyRecord,
    LedgerEntry,
    SpendHold,
    UsageRow,
)

# Any constant works; it only has to be the same for every replica applying migrations.
_MIGRATION_LOCK = 0x70657266


def _numbered(sql: str) -> str:
    """`?` placeholders → `$1, $2, …` (our SQL has no `?` inside literals)."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


_SQL = {name: _numbered(getattr(q, name)) for name in dir(q) if name.isupper() and name != "USAGE"}


def _count(status: str) -> int:
    """Rows affected, from a command status such as 'UPDATE 1'."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(PostgresAdmin, PostgresJobs):  # the admin API's and jobs' queries: admin_/job_postgres.py
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 10) -> PostgresStore:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
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

    async def record(self, entry: LedgerEntry) -> None:
        await self._pool.execute(_SQL["INSERT_LEDGER"], *entry.__dict__.values())

    async def usage(self, start_day: str, end_day: str, key_id: str | None = None) -> list[UsageRow]:
        sql = _numbered(q.USAGE.format(key_filter="AND key_id = ?" if key_id else ""))
        args = (start_day, end_day, key_id) if key_id else (start_day, end_day)
        return [UsageRow(*row) for row in await self._pool.fetch(sql, *args)]

    async def admitted_images(self, since: int, fine_since: int) -> list[AdmittedImages]:
        """Images admitted per key since ``since`` (unix s), per second from ``fine_since``, per minute before."""
        since_day = time.strftime("%Y-%m-%d", time.gmtime(since))
        rows = await self._pool.fetch(_SQL["ADMITTED_IMAGES"], fine_since, since_day, since)
        return [AdmittedImages(*row) for row in rows]

    async def reserve_spend(self, hold: SpendHold, cap_micros: int, now: int) -> bool:
        args = (hold.key_id, hold.month)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL["ENSURE_SPEND_ROW"], *args)
            await conn.execute(_SQL["LOCK_SPEND_ROW"], *args)  # one reservation per key at a time
            expired = await conn.fetchval(_SQL["EXPIRED_HOLDS"], *args, now)
            if expired:
                await conn.execute(_SQL["DELETE_EXPIRED_HOLDS"], *args, now)
                await conn.execute(_SQL["EXPIRE_TO_SPENT"], expired, expired, *args)
            status = await conn.execute(_SQL["RESERVE_SPEND"], hold.micros, *args, hold.micros, cap_micros)
            if _count(status) != 1:
                return False
            await conn.execute(_SQL["INSERT_HOLD"], hold.id, *args, hold.micros, hold.expires_at)
            return True

    async def settle_spend(self, hold: SpendHold, spent_micros: int) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if _count(await conn.execute(_SQL["DELETE_HOLD"], hold.id)) != 1:
                return False
            await conn.execute(_SQL["SETTLE_SPEND"], hold.micros, spent_micros, hold.key_id, hold.month)
            return True

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
