"""The admin API's reads and writes on the PostgreSQL store (mixed into PostgresStore)."""
from __future__ import annotations

import re
import time

import asyncpg

from server.database import admin_queries as aq
from server.database.admin_records import AuditEvent, ErrorCount, GenerationQuery, GenerationRow, ProviderActivity


def _numbered(sql: str) -> str:
    """`?` placeholders → `$1, $2, …` (as the main store does; no `?` inside our literals)."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class PostgresAdmin:
    _pool: asyncpg.Pool

    async def update_key(self, key_id: str, name: str, minute_limit: int | None, day_limit: int | None,
                         monthly_cap_micros: int | None) -> bool:
        status = await self._pool.execute(_numbered(aq.UPDATE_KEY), name, minute_limit, day_limit,
                                          monthly_cap_micros, key_id)
        return int(status.rsplit(" ", 1)[-1]) == 1

    async def list_generations(self, query: GenerationQuery) -> list[GenerationRow]:
        sql, args = aq.generations(query)
        return [GenerationRow(*row) for row in await self._pool.fetch(_numbered(sql), *args)]

    async def error_counts(self, start_day: str, end_day: str, key_id: str = "", mode: str = "") -> list[ErrorCount]:
        sql, args = aq.error_counts(start_day, end_day, key_id, mode)
        return [ErrorCount(*row) for row in await self._pool.fetch(_numbered(sql), *args)]

    async def provider_activity(self, since: int) -> list[ProviderActivity]:
        rows = await self._pool.fetch(_numbered(aq.PROVIDER_ACTIVITY), time.strftime("%Y-%m-%d", time.gmtime(since)),
                                      since)
        return [ProviderActivity(*row) for row in rows]

    async def record_audit(self, event: AuditEvent) -> None:
        await self._pool.execute(_numbered(aq.INSERT_AUDIT), *event.__dict__.values())

    async def list_audit(self, limit: int, before: tuple[int, str] | None = None) -> list[AuditEvent]:
        sql, args = aq.audit_events(limit, before)
        return [AuditEvent(*row) for row in await self._pool.fetch(_numbered(sql), *args)]
