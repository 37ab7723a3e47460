"""The job workers of one replica: a bounded pool per provider, fed from the store, each job under a lease.

    per pool (a provider, or the sandbox): at most PERF_JOB_WORKERS jobs at once; the queue is the
    store itself. Idle, a pool looks every PERF_JOB_POLL_SECONDS (at once when this replica queued one)
    for a queued job, or a running one whose lease lapsed, and claims it in one UPDATE.

    running a job: the SAME Pipeline.run as a synchronous request, under a Call carrying the job's
    hooks (reservation made at submission, fixed ledger id, handles to save or resume). Its lease is
    renewed every third of PERF_JOB_LEASE_SECONDS; a renewal refused means the owner cancelled it (the
    run is cancelled: released, recorded) or another worker has it (handed over: nothing written).

    taking one over (it was running under a worker that stopped):
      test key (sandbox)                    → run again from the start: nothing upstream to pay
      never reached the upstream            → run from the start
      reached a submit-then-poll upstream   → resumed: its saved tasks polled, never resubmitted
      reached an upstream, no handle saved  → failed, not retried: the first call may have been charged

Stopping (SIGTERM): no new claims; running jobs get the grace to finish, then are handed over.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from perf.images.v1 import image_service_pb2 as pb
from server.database import Store
from server.database.job_records import FAILED, SUCCEEDED, UPSTREAM_PHASE, JobRow
from server.errors import InternalError, PerfError, UpstreamError
from server.jobs.holds import hold_of
from server.jobs.hooks import WorkerHooks, ledger_id, saved_deployment
from server.jobs.render import error_json
from server.jobs.requests import kind_of
from server.jobs.settings import JobSettings
from server.pipeline.call import Call
from server.pipeline.pipeline import Pipeline
from server.runtime.request_context import REQUEST_ID

log = logging.getLogger("perf.jobs")


@dataclass
class _Running:
    task: asyncio.Task[pb.GenerateImagesResponse]
    hooks: WorkerHooks


class JobWorkers:
    def __init__(self, store: Store, pipeline: Pipeline, settings: JobSettings, pools: list[str]) -> None:
        self._store = store
        self._pipeline = pipeline
        self._settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = {pool: asyncio.Event() for pool in pools}
        self.webhooks_due = asyncio.Event()
        self._running: dict[str, _Running] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._loops = [asyncio.create_task(self._pool(pool)) for pool in self._wake]

    def wake(self, pool: str) -> None:
        if pool in self._wake:
            self._wake[pool].set()

    def wake_webhooks(self) -> None:
        self.webhooks_due.set()

    def cancel_local(self, job_id: str) -> None:
        running = self._running.get(job_id)
        if running is not None:
            running.task.cancel()

    async def stop(self, grace_s: float) -> None:
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=grace_s)
        for running in list(self._running.values()):
            log.warning("stopping: job %s is handed over to another worker", running.hooks.ledger_id)
            running.hooks.handed_over = True
            running.task.cancel()
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)

    async def _pool(self, pool: str) -> None:
        slots = asyncio.Semaphore(self._settings.workers_per_pool)
        wake = self._wake[pool]
        while True:
            await slots.acquire()
            row = None
            try:
                now = time.time()
                row = await self._store.claim_job(pool, self.worker_id, now, now + self._settings.lease_s)
            except Exception:
                log.exception("could not claim a job for pool %s", pool)
            if row is None:
                slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._settings.poll_s)
                wake.clear()
                continue
            job = asyncio.create_task(self._run(row))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
            job.add_done_callback(lambda _: slots.release())

    async def _run(self, row: JobRow) -> None:
        REQUEST_ID.set(row.request_id)
        try:
            await self._attempt(row)
        except Exception:
            log.exception("job %s failed in its worker", row.id)
            await self._finish(row, FAILED, None, error_json(InternalError(f"internal error (job {row.id})")))
        finally:
            self.wake_webhooks()

    async def _attempt(self, row: JobRow) -> None:
        caller = await self._store.get_key(row.key_id)
        if caller is None:
            raise RuntimeError(f"the key {row.key_id} of job {row.id} is gone")
        submit = pb.SubmitJobRequest.FromString(row.request)
        kind, request = kind_of(submit)
        hold = hold_of(row, caller)
        resuming = None
        if row.phase == UPSTREAM_PHASE and not caller.is_test:
            resuming = saved_deployment(row)
            if resuming is None:
                error = UpstreamError("the server running this job stopped while its upstream call was in flight; "
                                      "it is not retried, so it cannot be charged twice", retry_safe=False)
                await self._pipeline.abandon(kind, request, caller, row.request_id, hold, ledger_id(row.id),
                                             error.type)
                await self._finish(row, FAILED, None, error_json(error))
                return
            log.info("job %s taken over (attempt %d): resuming its tasks on %s", row.id, row.attempts, resuming)
        hooks = WorkerHooks(self._store, row, self.worker_id, hold, resuming)
        task = asyncio.create_task(self._pipeline.run(kind, request, Call(caller=caller, request_id=row.request_id,
                                                                           job=hooks)))
        self._running[row.id] = _Running(task, hooks)
        renewer = asyncio.create_task(self._renew(row.id, task, hooks))
        try:
            response = await task
        except PerfError as error:
            await self._finish(row, FAILED, None, error_json(error))
            return
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this worker itself is being stopped
            return  # cancelled by its owner (the row says so), or handed over: nothing more to write
        finally:
            renewer.cancel()
            self._running.pop(row.id, None)
        await self._finish(row, SUCCEEDED, response.SerializeToString(), "")

    async def _renew(self, job_id: str, task: asyncio.Task[pb.GenerateImagesResponse], hooks: WorkerHooks) -> None:
        every = self._settings.lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                if await self._store.renew_job(job_id, self.worker_id, time.time() + self._settings.lease_s):
                    continue
                row = await self._store.get_job(job_id)
            except Exception:
                log.exception("could not renew the lease of job %s", job_id)
                continue
            # Not ours any more: cancelled by its owner, or (the lease lapsed) another worker's now.
            hooks.handed_over = row is None or row.status != "cancelled"
            task.cancel()
            return

    async def _finish(self, row: JobRow, status: str, result: bytes | None, error: str) -> None:
        try:
            if not await self._store.finish_job(row.id, self.worker_id, status, result, error, time.time()):
                log.warning("job %s ended %s here, but it was no longer this worker's", row.id, status)
        except Exception:
            # The lease lapses and a successor resumes it (its ledger row is written once, by id).
            log.exception("could not store the outcome of job %s", row.id)

