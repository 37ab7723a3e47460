"""What the pipeline needs to know of an async job it runs (server/jobs/ implements it).

A job is admitted at submission (Pipeline.admit: validate, route, limit + reserve) and run later by a
worker through the same Pipeline.run, whose Call then carries these hooks: the reservation made at
submission (nothing is reserved twice), the ledger row's id (fixed per job, so a job finished by a
second worker after the first died still has exactly one row), the deployment to resume on, and
where to save the upstream's polling handles as the adapter reports them.
"""
from __future__ import annotations

from typing import Protocol

from server.accounting.holds import Hold
from server.providers.base import Resumption


class JobHooks(Protocol):
    hold: Hold
    ledger_id: str
    # The deployment a stopped worker had reached, whose saved tasks are polled again; None: a fresh run.
    resuming: str | None
    # Set when this worker stops and leaves the job to a successor: no ledger row, nothing released.
    handed_over: bool

    def resumption(self, deployment: str) -> Resumption:
        """The adapter's seam for `deployment`: where to save handles, and those to resume."""
        ...

    async def entering_upstream(self, deployment: str) -> None:
        """Called before the upstream is asked: from now on a successor may only resume, never re-run."""
        ...
