"""Who asks, and how the answer travels: what every request brings into the pipeline (pipeline.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from perf.images.v1 import image_service_pb2 as pb
from server.database.records import ApiKey
from server.pipeline.job_hooks import JobHooks


@dataclass(frozen=True)
class Call:
    """Who asks, under which request id, until when, with which Idempotency-Key, and (streamed requests)
    where its events go."""

    caller: ApiKey
    request_id: str
    time_remaining: float | None = None
    idempotency_key: str | None = None
    events: EventSink | None = None
    # An admitted async job run by a worker (job_hooks.py); None: a synchronous request.
    job: JobHooks | None = None


class EventSink(Protocol):
    async def put(self, event: pb.ImageStreamEvent) -> None: ...
