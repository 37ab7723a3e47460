"""The admin API's reads and writes on the SQLite store (mixed into SqliteStore)."""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from server.database import admin_queries as aq
from server.database.admin_records import AuditEvent, ErrorCount, GenerationQuery, GenerationRow, ProviderActivity


class SqliteAdmin:
    _reader: sqlite3.Connection
    _execute: Callable[[str, tuple[Any, ...]], Any]

    async def update_key(self, key_id: str, name: str, minute_limit: int | None, day_limit: int | None,
                         monthly_cap_micros: int | None) -> bool:
        return bool(await self._execute(aq.UPDATE_KEY, (name, minute_limit, day_limit, monthly_cap_micros,
                                                        key_id)) == 1)

    async def list_generations(self, query: GenerationQuery) -> list[GenerationRow]:
        sql, args = aq.generations(query)
        return [GenerationRow(*row) for row in self._reader.execute(sql, args)]

    async def error_counts(self, start_day: str, end_day: str, key_id: str = "", mode: str = "") -> list[ErrorCount]:
        sql, args = aq.error_counts(start_day, end_day, key_id, mode)
        return [ErrorCount(*row) for row in self._reader.execute(sql, args)]

    async def provider_activity(self, since: int) -> list[ProviderActivity]:
        args = (time.strftime("%Y-%m-%d", time.gmtime(since)), since)
        return [ProviderActivity(*row) for row in self._reader.execute(aq.PROVIDER_ACTIVITY, args)]

    async def record_audit(self, event: AuditEvent) -> None:
        await self._execute(aq.INSERT_AUDIT, tuple(event.__dict__.values()))

    async def list_audit(self, limit: int, before: tuple[int, str] | None = None) -> list[AuditEvent]:
        sql, args = aq.audit_events(limit, before)
        return [AuditEvent(*row) for row in self._reader.execute(sql, args)]
