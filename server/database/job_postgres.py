"""Async jobs and webhook secrets on the PostgreSQL store (mixed into PostgresStore)."""
from __future__ import annotations

import re
from typing import Any

import asyncpg

from server.database import job_queries as jq
from server.database.job_records import JobRow


def _numbered(sql: str) -> str:
    """`?` placeholders → `$1, $2, …` (as the main store does; no `?` inside our literals)."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


_SQL = {name: _numbered(getattr(jq, name)) for name in dir(jq) if name.isupper()}


def _row(row: Any) -> JobRow | None:
    return JobRow(*row) if row else None


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class PostgresJobs:
    _pool: asyncpg.Pool

    async def insert_job(self, job: JobRow) -> None:
        await self._pool.execute(_SQL["INSERT_JOB"], *job.__dict__.values())

    async def get_job(self, job_id: str) -> JobRow | None:
        return _row(await self._pool.fetchrow(_SQL["GET_JOB"], job_id))

    async def list_jobs(self, key_id: str, before_id: str, limit: int) -> list[JobRow]:
        return [JobRow(*row) for row in await self._pool.fetch(_SQL["LIST_JOBS"], key_id, before_id, limit)]

    async def claim_job(self, pool: str, worker: str, now: float, lease_until: float) -> JobRow | None:
        return _row(await self._pool.fetchrow(_SQL["CLAIM_JOB_POSTGRES"], worker, lease_until, pool, now))

    async def renew_job(self, job_id: str, worker: str, lease_until: float) -> bool:
        return _count(await self._pool.execute(_SQL["RENEW_JOB"], lease_until, job_id, worker)) == 1

    async def set_job_phase(self, job_id: str, worker: str, phase: str) -> bool:
        return _count(await self._pool.execute(_SQL["SET_JOB_PHASE"], phase, job_id, worker)) == 1

    async def save_job_handle(self, job_id: str, worker: str, handle: str) -> bool:
        return _count(await self._pool.execute(_SQL["SAVE_JOB_HANDLE"], handle, job_id, worker)) == 1

    async def finish_job(self, job_id: str, worker: str, status: str, result: bytes | None, error: str,
                         now: float) -> bool:
        sql = _SQL["SUCCEED_JOB"] if status == "succeeded" else _SQL["FAIL_JOB"]
        return _count(await self._pool.execute(sql, status, result, error, int(now), now, job_id, worker)) == 1

    async def cancel_job(self, job_id: str, key_id: str, from_status: str, error: str, now: float) -> bool:
        return _count(await self._pool.execute(_SQL["CANCEL_JOB"], error, int(now), now, job_id, key_id,
                                               from_status)) == 1

    async def claim_webhook(self, now: float, lease_until: float) -> JobRow | None:
        return _row(await self._pool.fetchrow(_SQL["CLAIM_WEBHOOK_POSTGRES"], lease_until, now))

    async def webhook_attempted(self, job_id: str, status: str, last_status: int, next_at: float) -> None:
        await self._pool.execute(_SQL["WEBHOOK_ATTEMPTED"], status, last_status, next_at, job_id)

    async def get_webhook_secret(self, key_id: str) -> str | None:
        value = await self._pool.fetchval(_SQL["GET_WEBHOOK_SECRET"], key_id)
        return None if value is None else str(value)

    async def set_webhook_secret(self, key_id: str, secret: str, now: int) -> None:
        await self._pool.execute(_SQL["SET_WEBHOOK_SECRET"], key_id, secret, now)
