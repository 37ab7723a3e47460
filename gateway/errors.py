"""gRPC status (with rich details) → the public JSON error, its HTTP status and headers.

The type comes from ErrorInfo.reason, never from message text. A status without our details came
from the gRPC library itself (backend down, deadline, message too large), and is mapped by code —
notably a library RESOURCE_EXHAUSTED is *not* a rate limit, so clients must not retry it as one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import grpc
import orjson
from aiohttp import web
from google.rpc import error_details_pb2, status_pb2

from contract.errors import ERROR_DOMAIN, ERROR_KINDS, KINDS_BY_REASON, SHOULD_RETRY

_TRANSPORT: dict[grpc.StatusCode, tuple[str, str]] = {
    grpc.StatusCode.UNAVAILABLE: ("provider_unavailable", "The image service is unavailable; retry shortly."),
    grpc.StatusCode.DEADLINE_EXCEEDED: ("timeout", "The request did not finish within its deadline."),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("upstream_error", "The response was too large to relay."),
}


# The public error type an error response carries, for the metrics and access line (gateway/observe.py).
ERROR_TYPE = web.ResponseKey("error_type", str)


@dataclass(frozen=True)
class PublicError:
    status: int
    type: str
    message: str
    param: str | None = None
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # False when a retry could make an upstream charge again (the server says so); None: no opinion.
    should_retry: bool | None = None

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return {"error": error}

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        elif self.status == 409:
            # SDKs retry every 409; a key reused with other parameters will never succeed.
            headers["x-should-retry"] = "false"
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        elif self.status == 500:
            # Our own bug may have struck after an upstream accepted the work: a retry could pay twice.
            headers["x-should-retry"] = "false"
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return headers


def error_response(error: PublicError, request_id: str | None = None) -> web.Response:
    """The error as an HTTP response; with `request_id`, also its x-request-id header."""
    headers = error.response_headers()
    if request_id is not None:
        headers["x-request-id"] = request_id
    response = web.Response(body=orjson.dumps(error.body()), status=error.status, headers=headers,
                            content_type="application/json")
    response[ERROR_TYPE] = error.type
    return response


def public_error(type_: str, message: str, *, param: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None) -> PublicError:
    return PublicError(status=status or ERROR_KINDS[type_].http_status, type=type_, message=message, param=param,
                       headers=headers or {})


# Response metadata the server means for the HTTP client (rate-limit state), passed through by name.
FORWARDED_PREFIXES = ("x-ratelimit-",)


def forwarded_headers(metadata: grpc.aio.Metadata | tuple[tuple[str, str | bytes], ...] | None) -> dict[str, str]:
    return {key: value for key, value in (metadata or ())
            if isinstance(value, str) and key.startswith(FORWARDED_PREFIXES)}


def from_rpc_error(error: grpc.aio.AioRpcError, request_id: str) -> PublicError:
    status = _rich_status(error)
    if status is not None:
        return _from_status(status)
    code = error.code()
    if code == grpc.StatusCode.CANCELLED:
        # Only reached when the backend cancelled; a gone client never reads this.
        return public_error("timeout", "The request was cancelled.", status=499)
    if code in _TRANSPORT:
        type_, message = _TRANSPORT[code]
        # A too-large response was generated (and paid for) already, and a deadline may have passed
        # after an upstream accepted the work: retrying either could pay again. An unreachable
        # backend (UNAVAILABLE) is left to the client's rules.
        unsafe = code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED)
        return PublicError(status=ERROR_KINDS[type_].http_status, type=type_, message=message,
                           should_retry=False if unsafe else None)
    return public_error("internal_error", f"internal error (request {request_id})")


def _rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except Exception:  # a malformed trailer must not become a 500 of its own
                return None
            return status
    return None


def _from_status(status: status_pb2.Status) -> PublicError:
    kind = None
    param = None
    retry_after = None
    should_retry = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                kind = KINDS_BY_REASON.get(info.reason)
                if SHOULD_RETRY in info.metadata:
                    should_retry = info.metadata[SHOULD_RETRY] == "true"
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations:
                param = bad.field_violations[0].field
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after = retry.retry_delay.seconds + (1 if retry.retry_delay.nanos else 0)
    if kind is None:
        return public_error("internal_error", "internal error")
    return PublicError(status=kind.http_status, type=kind.type, message=status.message, param=param,
                       retry_after=retry_after, should_retry=should_retry)
