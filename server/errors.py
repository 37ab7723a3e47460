"""Domain errors raised anywhere in the server, and their gRPC status with rich details.

    PerfError(type, message, param=None, retry_after=None)
      ├── InvalidRequest            invalid_request
      ├── ContentPolicyViolation    content_policy_violation
      ├── AuthenticationFailed      authentication_error
      ├── PermissionDenied          permission_denied
      ├── NotFound                  not_found
      ├── RateLimitExceeded         rate_limit_exceeded (retry_after)
      ├── Conflict                  conflict
      ├── UpstreamError             upstream_error
      ├── ProviderUnavailable       provider_unavailable (retry_after optional)
      │     └── ModelGone           the upstream model no longer exists (moves to the successor)
      ├── Timeout                   timeout
      └── InternalError             internal_error

The wire form is ``google.rpc.Status`` with ErrorInfo (always), BadRequest (when a field is
named) and RetryInfo (when a retry delay is known); see contract/errors.py for the table.

`retry_safe` says whether repeating the request could make an upstream charge again: False for
anything that may have happened after an upstream accepted the work (an upstream_error or timeout
by default, and our own internal_error, since we cannot know how far it got), True where the work
provably never reached the upstream, None where the usual client rules apply. It travels as
ErrorInfo metadata ``should_retry`` and leaves the gateway as the ``x-should-retry`` header, which
the official SDKs obey before their own retry rules.

Messages travel in gRPC trailers, where all metadata together must stay under 16 KiB, so client
text is quoted through contract.errors.echo (cut short) and every message is capped as a last resort.
"""
from __future__ import annotations

import math
from typing import Any

from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from contract.errors import ERROR_DOMAIN, ERROR_KINDS, SHOULD_RETRY

# No message, whatever it quotes (upstream text included), may grow past this in a trailer.
MAX_MESSAGE_CHARS = 1024


class PerfError(Exception):
    type = "internal_error"
    default_retry_safe: bool | None = None

    def __init__(self, message: str, *, param: str | None = None, retry_after: float | None = None,
                 metadata: dict[str, str] | None = None, retry_safe: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.metadata = metadata or {}
        self.retry_safe = self.default_retry_safe if retry_safe is None else retry_safe

    def to_status(self) -> status_pb2.Status:
        kind = ERROR_KINDS[self.type]
        message = self.message[:MAX_MESSAGE_CHARS]
        status = status_pb2.Status(code=kind.grpc_code.value[0], message=message)
        metadata = dict(self.metadata)
        if self.retry_safe is not None:
            metadata[SHOULD_RETRY] = "true" if self.retry_safe else "false"
        info = error_details_pb2.ErrorInfo(reason=kind.reason, domain=ERROR_DOMAIN, metadata=metadata)
        status.details.add().Pack(info)
        if self.param is not None:
            bad = error_details_pb2.BadRequest()
            bad.field_violations.add(field=self.param, description=message)
            status.details.add().Pack(bad)
        if self.retry_after is not None:
            # Whole seconds, rounded up: a client that waits exactly this long must succeed.
            seconds = max(0, math.ceil(self.retry_after))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
        return status


class InvalidRequest(PerfError):
    type = "invalid_request"


class ContentPolicyViolation(PerfError):
    type = "content_policy_violation"


class AuthenticationFailed(PerfError):
    type = "authentication_error"


class PermissionDenied(PerfError):
    type = "permission_denied"


class NotFound(PerfError):
    type = "not_found"


class RateLimitExceeded(PerfError):
    type = "rate_limit_exceeded"

    def __init__(self, message: str, *, limit: str = "unknown", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.limit = limit  # the window name or "monthly_spend": a metrics label, never sent to the caller


class Conflict(PerfError):
    type = "conflict"


class UpstreamError(PerfError):
    default_retry_safe = False
    type = "upstream_error"


class ProviderUnavailable(PerfError):
    type = "provider_unavailable"


class ModelGone(ProviderUnavailable):
    """The upstream says the deployment's model no longer exists; nothing was generated or charged.

    The pipeline retires the deployment and moves the request to its successor."""

    default_retry_safe = True


class Timeout(PerfError):
    default_retry_safe = False
    type = "timeout"


class InternalError(PerfError):
    default_retry_safe = False
    type = "internal_error"
