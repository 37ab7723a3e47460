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
      ├── Timeout                   timeout
      └── InternalError             internal_error

The wire form is ``google.rpc.Status`` with ErrorInfo (always), BadRequest (when a field is
named) and RetryInfo (when a retry delay is known); see contract/errors.py for the table.

Messages travel in gRPC trailers, where all metadata together must stay under 16 KiB, so client
text is quoted through contract.errors.echo (cut short) and every message is capped as a last resort.
"""
from __future__ import annotations

import math

from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from contract.errors import ERROR_DOMAIN, ERROR_KINDS

# No message, whatever it quotes (upstream text included), may grow past this in a trailer.
MAX_MESSAGE_CHARS = 1024


class PerfError(Exception):
    type = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, retry_after: float | None = None,
                 metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.metadata = metadata or {}

    def to_status(self) -> status_pb2.Status:
        kind = ERROR_KINDS[self.type]
        message = self.message[:MAX_MESSAGE_CHARS]
        status = status_pb2.Status(code=kind.grpc_code.value[0], message=message)
        info = error_details_pb2.ErrorInfo(reason=kind.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
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


class Conflict(PerfError):
    type = "conflict"


class UpstreamError(PerfError):
    type = "upstream_error"


class ProviderUnavailable(PerfError):
    type = "provider_unavailable"


class Timeout(PerfError):
    type = "timeout"


class InternalError(PerfError):
    type = "internal_error"
