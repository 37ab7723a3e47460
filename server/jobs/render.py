"""A job's row as the proto the API answers, and errors as the row keeps them."""
from __future__ import annotations

import orjson

from perf.images.v1 import image_service_pb2 as pb
from server.database.job_records import CANCELLED, FAILED, NO_WEBHOOK, SUCCEEDED, WAITING, JobRow
from server.errors import PerfError

JOB_OBJECT = "image.job"


def job_message(row: JobRow) -> pb.Job:
    job = pb.Job(id=row.id, object=JOB_OBJECT, status=row.status, created=row.created_at, kind=row.kind,
                 model=row.model, completed_at=row.completed_at)
    if row.status == SUCCEEDED and row.result is not None:
        job.result.ParseFromString(row.result)
    if row.status in (FAILED, CANCELLED) and row.error:
        saved = orjson.loads(row.error)
        job.error.CopyFrom(pb.JobError(type=saved.get("type", ""), message=saved.get("message", ""),
                                       param=saved.get("param") or "", code=saved.get("code") or ""))
    if row.webhook_status != NO_WEBHOOK:
        # Until the job is done its webhook is simply pending, whatever the row calls that wait.
        status = "pending" if row.webhook_status == WAITING else row.webhook_status
        job.webhook.CopyFrom(pb.WebhookDelivery(url=row.webhook_url, status=status, attempts=row.webhook_attempts,
                                                last_status=row.webhook_last_status))
    return job


def error_json(error: PerfError) -> str:
    """The documented error object (contract/errors.py types) as the row keeps it."""
    return orjson.dumps({"type": error.type, "message": error.message, "param": error.param, "code": None}).decode()
