"""Async jobs for the calling key: submit (admitted by the pipeline, then queued), get, cancel, list, watch.

A job is the caller's alone: another key asking for it gets not_found, as for an id that never was.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

from contract.errors import echo
from perf.images.v1 import image_service_pb2 as pb
from server.accounting.holds import Accountant
from server.database import Store
from server.database.ids import ordered_id
from server.database.job_records import FINISHED, QUEUED, RUNNING, JobRow
from server.errors import Conflict, InvalidRequest, NotFound
from server.jobs.holds import hold_of, spend_json
from server.jobs.hooks import ledger_id
from server.jobs.render import job_message
from server.jobs.requests import kind_of
from server.jobs.webhook_target import checked_webhook_url
from server.jobs.workers import JobWorkers
from server.pipeline.call import Call
from server.pipeline.pipeline import Pipeline
from server.runtime.outages import backend

MAX_PAGE = 100
DEFAULT_PAGE = 20
AFTER_EVERY_ID = "job_~"  # sorts after every job id: the first page
WATCH_INTERVAL_S = 0.25
# What a job id (ordered_id("job_")) can be made of: anything else names no job, and must not reach the
# store (PostgreSQL refuses a NUL in text with an error of its own, which would be a 500).
JOB_ID = re.compile(r"job_[0-9A-Za-z_-]{1,64}")
CURSOR = re.compile(r"[0-9A-Za-z_~-]{1,68}")


class JobService:
    def __init__(self, store: Store, pipeline: Pipeline, accountant: Accountant, workers: JobWorkers,
                 insecure_hosts: frozenset[str]) -> None:
        self._store = store
        self._pipeline = pipeline
        self._accountant = accountant
        self._workers = workers
        self._insecure = insecure_hosts

    async def submit(self, submit: pb.SubmitJobRequest, call: Call) -> pb.Job:
        if call.idempotency_key is not None:
            # Ignored, a retried submission would be a second job and a second charge: refused instead,
            # until submissions are idempotent (the job id is the handle to come back to).
            raise InvalidRequest("Idempotency-Key is not accepted on job submission: a job's id is the handle to "
                                 "come back to; resubmit only when no 202 arrived", param="Idempotency-Key")
        kind, request = kind_of(submit)
        webhook = submit.webhook_url if submit.HasField("webhook_url") else ""
        if webhook:
            checked_webhook_url(webhook, self._insecure)
            with backend("database"):
                secret = await self._store.get_webhook_secret(call.caller.id)
            if secret is None:
                raise InvalidRequest("this key has no webhook secret yet: the operator makes one with "
                                     f"`python -m server.keys webhook-secret {call.caller.id}`", param="webhook_url")
        valid, route, hold = await self._pipeline.admit(kind, request, call)
        pool = "sandbox" if route.sandbox or route.deployment is None else route.deployment.provider
        row = JobRow.queued(id=ordered_id("job_"), key_id=call.caller.id, kind=kind.name, model=valid.model.id,
                            pool=pool, request=submit.SerializeToString(), request_id=call.request_id,
                            reservation_id=hold.reservation_id, spend_hold=spend_json(hold),
                            created_at=int(time.time()), webhook_url=webhook,
                            webhook_id=ordered_id("msg_") if webhook else "")
        try:
            with backend("database"):
                await self._store.insert_job(row)
        except BaseException:
            await self._accountant.release(hold)
            raise
        self._workers.wake(pool)
        return job_message(row)

    async def get(self, job_id: str, call: Call) -> pb.Job:
        return job_message(await self._owned(job_id, call))

    async def cancel(self, job_id: str, call: Call) -> pb.Job:
        row = await self._owned(job_id, call)
        if row.status in FINISHED:
            raise Conflict(f"job {row.id} is {row.status} already; only a queued or running job can be cancelled")
        if row.status == QUEUED and await self._store.cancel_job(row.id, call.caller.id, QUEUED, "", time.time()):
            # Never run: its reservation comes back here, with its one ledger row.
            kind, request = kind_of(pb.SubmitJobRequest.FromString(row.request))
            await self._pipeline.abandon(kind, request, call.caller, row.request_id, hold_of(row, call.caller),
                                         ledger_id(row.id), "cancelled")
        elif await self._store.cancel_job(row.id, call.caller.id, RUNNING, "", time.time()):
            self._workers.cancel_local(row.id)  # elsewhere, its worker sees it at its next lease renewal
        self._workers.wake_webhooks()
        return job_message(await self._owned(job_id, call))

    async def list(self, request: pb.ListJobsRequest, call: Call) -> pb.ListJobsResponse:
        limit = request.limit if request.HasField("limit") else DEFAULT_PAGE
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", param="limit")
        after = request.after if request.HasField("after") and request.after else AFTER_EVERY_ID
        if not CURSOR.fullmatch(after):
            raise InvalidRequest("after must be a job id (the last_id of the previous page)", param="after")
        with backend("database"):
            rows = await self._store.list_jobs(call.caller.id, after, limit + 1)
        page = [job_message(row) for row in rows[:limit]]
        return pb.ListJobsResponse(data=page, has_more=len(rows) > limit, first_id=page[0].id if page else "",
                                   last_id=page[-1].id if page else "")

    async def watch(self, job_id: str, call: Call) -> AsyncIterator[pb.Job]:
        """The job now and at each change of status or webhook state, until it is finished."""
        last = None
        while True:
            job = job_message(await self._owned(job_id, call))
            seen = (job.status, job.webhook.status, job.webhook.attempts)
            if seen != last:
                last = seen
                yield job
            if job.status in FINISHED:
                return
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def _owned(self, job_id: str, call: Call) -> JobRow:
        with backend("database"):
            row = await self._store.get_job(job_id) if JOB_ID.fullmatch(job_id) else None
        if row is None or row.key_id != call.caller.id:
            raise NotFound(f"No job with id '{echo(job_id)}'", param="id")
        return row

