"""A running job's hooks for the pipeline (server/pipeline/job_hooks.py), backed by its row in the store.

Everything a successor needs to resume is written as it happens: the phase before the upstream is
asked, and each accepted task's polling handle as the adapter reports it, as JSON
`{"deployment": "<id>", "tasks": {"<index>": {...handle...}}}`.
"""
from __future__ import annotations

import asyncio
import logging

import orjson

from server.accounting.holds import Hold
from server.database import Store
from server.database.job_records import UPSTREAM_PHASE, JobRow
from server.errors import InternalError
from server.providers.base import Handle, Resumption

log = logging.getLogger("perf.jobs")


class WorkerHooks:
    def __init__(self, store: Store, row: JobRow, worker: str, hold: Hold, resuming: str | None) -> None:
        self._store = store
        self._row = row
        self._worker = worker
        self.hold = hold
        self.ledger_id = ledger_id(row.id)
        self.resuming = resuming
        self.handed_over = False
        saved = orjson.loads(row.upstream_handle) if row.upstream_handle else {}
        self._deployment: str = saved.get("deployment", "")
        self._tasks: dict[str, Handle] = saved.get("tasks", {})
        self._lock = asyncio.Lock()

    def resumption(self, deployment: str) -> Resumption:
        saved = None
        if self.resuming == deployment and self._deployment == deployment:
            saved = {int(index): handle for index, handle in self._tasks.items()}
        return Resumption(on_accepted=lambda index, handle: self._accepted(deployment, index, handle), saved=saved)

    async def entering_upstream(self, deployment: str) -> None:
        if not await self._store.set_job_phase(self._row.id, self._worker, UPSTREAM_PHASE):
            raise InternalError("this job is no longer this worker's (cancelled, or taken over)")

    async def _accepted(self, deployment: str, index: int, handle: Handle) -> None:
        async with self._lock:  # n tasks report concurrently; each write holds every handle so far
            if self._deployment != deployment:
                self._deployment, self._tasks = deployment, {}
            self._tasks[str(index)] = handle
            saved = orjson.dumps({"deployment": deployment, "tasks": self._tasks}).decode()
            try:
                await self._store.save_job_handle(self._row.id, self._worker, saved)
            except Exception:  # this worker can still finish it; only a successor could not resume it
                log.exception("could not save the upstream handle of job %s", self._row.id)


def ledger_id(job_id: str) -> str:
    """The job's one ledger row: the same id whichever worker writes it (the insert ignores a repeat)."""
    return "led_" + job_id.removeprefix("job_")


def saved_deployment(row: JobRow) -> str | None:
    """The deployment whose tasks a stopped worker saved handles for; None when it saved none."""
    if not row.upstream_handle:
        return None
    saved = orjson.loads(row.upstream_handle)
    return str(saved["deployment"]) if saved.get("tasks") else None
