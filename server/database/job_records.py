"""An async image job as the store keeps it (server/jobs/; migration 0009)."""
from __future__ import annotations

from dataclasses import dataclass

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
# A worker has called (or was calling) the upstream: a successor may only resume, never run it again.
UPSTREAM_PHASE = "upstream"
# Webhook delivery states: none asked, the job not finished yet, to send (retrying), and the ends.
NO_WEBHOOK, WAITING, PENDING, DELIVERED, GAVE_UP = "", "waiting", "pending", "delivered", "failed"


@dataclass(frozen=True)
class JobRow:
    id: str
    key_id: str
    kind: str
    model: str
    pool: str
    status: str
    request: bytes
    request_id: str
    reservation_id: str
    spend_hold: str
    created_at: int
    completed_at: int
    worker: str
    lease_until: float
    attempts: int
    phase: str
    upstream_handle: str
    result: bytes | None
    error: str
    webhook_url: str
    webhook_id: str
    webhook_status: str
    webhook_attempts: int
    webhook_last_status: int
    webhook_next_at: float

    @classmethod
    def queued(cls, *, id: str, key_id: str, kind: str, model: str, pool: str, request: bytes, request_id: str,
               reservation_id: str, spend_hold: str, created_at: int, webhook_url: str, webhook_id: str) -> JobRow:
        return cls(id=id, key_id=key_id, kind=kind, model=model, pool=pool, status=QUEUED, request=request,
                   request_id=request_id, reservation_id=reservation_id, spend_hold=spend_hold,
                   created_at=created_at, completed_at=0, worker="", lease_until=0.0, attempts=0, phase="",
                   upstream_handle="", result=None, error="", webhook_url=webhook_url, webhook_id=webhook_id,
                   webhook_status=WAITING if webhook_url else NO_WEBHOOK, webhook_attempts=0,
                   webhook_last_status=0, webhook_next_at=0.0)
