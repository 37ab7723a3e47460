"""Per-call values set by the call wrappers (call_wrappers.py) and read by the service, without globals."""
from __future__ import annotations

import contextvars
from dataclasses import dataclass

from contract.request_ids import REQUEST_ID as _ACCEPTED_ID
from contract.request_ids import new_request_id
from server.database.records import ApiKey

REQUEST_ID = contextvars.ContextVar[str]("request_id", default="")
CALLER = contextvars.ContextVar["ApiKey | None"]("caller", default=None)


@dataclass
class CallSummary:
    """What the pipeline learnt about one call, for the call wrapper's access line (a mutable object in
    the context, so a streamed call's pipeline task, which runs in a copy of it, fills the same one)."""

    model: str = ""
    provider: str = ""
    deployment: str = ""
    images: int = 0
    upstream_ms: float = 0.0


SUMMARY = contextvars.ContextVar["CallSummary | None"]("summary", default=None)

__all__ = ["CALLER", "REQUEST_ID", "SUMMARY", "CallSummary", "accept_request_id", "current_caller", "new_request_id"]


def accept_request_id(offered: str | None) -> str:
    return offered if offered and _ACCEPTED_ID.fullmatch(offered) else new_request_id()


def current_caller() -> ApiKey:
    caller = CALLER.get()
    if caller is None:  # the call wrapper's API-key guard guarantees this for authenticated methods
        raise RuntimeError("no authenticated caller in this context")
    return caller
