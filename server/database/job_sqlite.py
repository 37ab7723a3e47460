"""Async jobs and webhook secrets on the SQLite store (mixed into SqliteStore)."""
from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from server.database import job_queries as jq
from server.database.job_records import JobRow

T = TypeVar("T")


def _row(row: Any) -> JobRow | None:
    return JobRow(*row) if row else None


class SqliteJobs:
    _reader: sqlite3.Connection
    _execute: Callable[[str, tuple[Any, ...]], Awaitable[int]]
    _write: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]

    async def insert_job(self, job: JobRow) -> None:
        await self._execute(jq.INSERT_JOB, tuple(job.__dict__.values()))

    async def get_job(self, job_id: str) -> JobRow | None:
        return _row(self._reader.execute(jq.GET_JOB, (job_id,)).fetchone())

    async def list_jobs(self, key_id: str, before_id: str, limit: int) -> list[JobRow]:
        return [JobRow(*row) for row in self._reader.execute(jq.LIST_JOBS, (key_id, before_id, limit))]

    async def claim_job(self, pool: str, worker: str, now: float, lease_until: float) -> JobRow | None:
        return await self._write(lambda db: _row(db.execute(jq.CLAIM_JOB_SQLITE,
                                                              (worker, lease_until, pool, now)).fetchone()))  # type: ignore[no-any-return]

    async def renew_job(self, job_id: str, worker: str, lease_until: float) -> bool:
        return await self._execute(jq.RENEW_JOB, (lease_until, job_id, worker)) == 1

    async def set_job_phase(self, job_id: str, worker: str, phase: str) -> bool:
        return await self._execute(jq.SET_JOB_PHASE, (phase, job_id, worker)) == 1

    async def save_job_handle(self, job_id: str, worker: str, handle: str) -> bool:
        return await self._execute(jq.SAVE_JOB_HANDLE, (handle, job_id, worker)) == 1

    async def finish_job(self, job_id: str, worker: str, status: str, result: bytes | None, error: str,
                         now: float) -> bool:
        sql = jq.SUCCEED_JOB if status == "succeeded" else jq.FAIL_JOB
        return await self._execute(sql, (status, result, error, int(now), now, job_id, worker)) == 1

    async def cancel_job(self, job_id: str, key_id: str, from_status: str, error: str, now: float) -> bool:
        return await self._execute(jq.CANCEL_JOB, (error, int(now), now, job_id, key_id, from_status)) == 1

    async def claim_webhook(self, now: float, lease_until: float) -> JobRow | None:
        return await self._write(lambda db: _row(db.execute(jq.CLAIM_WEBHOOK_SQLITE,
                                                              (lease_until, now)).fetchone()))  # type: ignore[no-any-return]

    async def webhook_attempted(self, job_id: str, status: str, last_status: int, next_at: float) -> None:
        await self._execute(jq.WEBHOOK_ATTEMPTED, (status, last_status, next_at, job_id))

    async def get_webhook_secret(self, key_id: str) -> str | None:
        row = self._reader.execute(jq.GET_WEBHOOK_SECRET, (key_id,)).fetchone()
        return str(row[0]) if row else None

    async def set_webhook_secret(self, key_id: str, secret: str, now: int) -> None:
        await self._execute(jq.SET_WEBHOOK_SECRET, (key_id, secret, now))
