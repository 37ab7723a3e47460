"""Server interceptors: request id and logging with a catch-all, then authentication.

Both wrap the handler (unary and server-streaming) rather than answering from the interceptor
itself, so the outer one sees every outcome: a PerfError becomes its rich status, anything
unexpected becomes INTERNAL with a generic message (the real exception is only logged), and
cancellation passes through untouched. The outer one also parses the request: bytes that are not
the method's message are answered INVALID_ARGUMENT / INVALID_REQUEST, where gRPC itself would
answer UNKNOWN naming its DecodeError.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from contract.errors import ERROR_KINDS
from contract.tracing import TRACE_HEADERS, Tracing
from server.accounting.headers import rate_limit_metadata
from server.admin.auth import ADDRESS_METADATA, ADMIN_CALLER, ADMIN_PREFIX, AdminGate, peer_host
from server.errors import InternalError, InvalidRequest, PerfError
from server.keys.authenticator import Authenticator
from server.runtime.metrics import ServerMetrics
from server.runtime.request_context import CALLER, REQUEST_ID, SUMMARY, CallSummary, accept_request_id

log = logging.getLogger("perf.server")

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
SERVICE_PREFIX = "/perf.images.v1.ImageService/"
# Request ids, logging and the catch-all cover the admin API too; its authentication is its own.
CONTEXT_PREFIXES = (SERVICE_PREFIX, ADMIN_PREFIX)
# The signed image URL is its own credential: fetching an image needs no API key.
UNAUTHENTICATED_METHODS = {SERVICE_PREFIX + "GetImageContent", SERVICE_PREFIX + "StreamImageContent"}


def _metadata(details: grpc.HandlerCallDetails, name: str) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == name:
            return value if isinstance(value, str) else None
    return None


class _Unparseable:
    """Stands in for a request whose bytes did not parse, so the handler can answer it properly."""


UNPARSEABLE = _Unparseable()


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # DecodeError, or whatever else a message parser raises on hostile bytes
            return UNPARSEABLE

    return parse


def _wrap(handler: grpc.RpcMethodHandler | None, make: Callable[[Handler], Handler],
          make_stream: Callable[[StreamHandler], StreamHandler] | None = None, *,
          lenient: bool = False) -> grpc.RpcMethodHandler | None:
    if handler is None:
        return handler
    deserializer = _lenient(handler.request_deserializer) if lenient else handler.request_deserializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(make(handler.unary_unary), request_deserializer=deserializer,
                                                   response_serializer=handler.response_serializer)
    if handler.unary_stream is not None and make_stream is not None:
        return grpc.unary_stream_rpc_method_handler(make_stream(handler.unary_stream),
                                                    request_deserializer=deserializer,
                                                    response_serializer=handler.response_serializer)
    return handler  # other streaming methods (health Watch, reflection) pass through unwrapped


async def abort_with(context: grpc.aio.ServicerContext, error: PerfError) -> None:
    status = error.to_status()
    await context.abort(ERROR_KINDS[error.type].grpc_code, status.message,
                        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),
                                           ("x-request-id", REQUEST_ID.get()), *rate_limit_metadata()))


@dataclass(frozen=True)
class _Observers:
    """Where each call's outcome goes besides its log line: metrics and a span (either may be off)."""

    metrics: ServerMetrics | None
    tracing: Tracing


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ServerMetrics | None = None, tracing: Tracing | None = None) -> None:
        self._observers = _Observers(metrics, tracing or Tracing.off())

    async def intercept_service(self, continuation: Callable[..., Awaitable[grpc.RpcMethodHandler]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if not details.method.startswith(CONTEXT_PREFIXES):
            return handler
        offered = _metadata(details, "x-request-id")
        method = details.method.rsplit("/", 1)[-1]
        observers = self._observers
        # The caller's trace context (the gateway's span), when tracing is on.
        parent = ({name: value for name in TRACE_HEADERS if (value := _metadata(details, name)) is not None}
                  if observers.tracing.enabled else None)

        def make(inner: Handler) -> Handler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with _handled(context, method, offered, observers, parent):
                    _parsed(request)
                    response = await inner(request, context)
                    # Trailing, not initial: sending initial metadata early costs a separate write per call
                    # (~10% of server CPU under load), and trailers travel with the status anyway.
                    context.set_trailing_metadata((("x-request-id", REQUEST_ID.get()), *rate_limit_metadata()))
                    return response
                raise AssertionError("unreachable: _handled re-raises or aborts")

            return call

        def make_stream(inner: StreamHandler) -> StreamHandler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async with _handled(context, method, offered, observers, parent):
                    _parsed(request)
                    async for message in inner(request, context):
                        yield message
                    context.set_trailing_metadata((("x-request-id", REQUEST_ID.get()),))

            return call

        # Only the outermost wrapper's deserializer runs, so parsing leniently here covers every method.
        return _wrap(handler, make, make_stream, lenient=True)  # type: ignore[return-value]


def _parsed(request: Any) -> None:
    if request is UNPARSEABLE:  # before authentication, as the gateway refuses bad JSON
        raise InvalidRequest("The request message could not be parsed.")


@contextlib.asynccontextmanager
async def _handled(context: grpc.aio.ServicerContext, method: str, offered: str | None, observers: _Observers,
                   parent: dict[str, str] | None) -> AsyncIterator[None]:
    """One call's request id, outcome, span, metrics and log line: a PerfError becomes its rich status,
    anything unexpected INTERNAL with a generic message (the exception itself only logged)."""
    request_id = accept_request_id(offered)
    REQUEST_ID.set(request_id)
    summary = CallSummary()
    SUMMARY.set(summary)
    started = time.perf_counter()
    outcome = "OK"
    with observers.tracing.span(f"perf.server/{method}", kind="server", carrier=parent,
                                attributes={"rpc.system": "grpc", "rpc.method": method,
                                            "perf.request_id": request_id}) as span:
        try:
            yield
        except PerfError as error:
            outcome = error.type
            await abort_with(context, error)
        except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit):
            outcome = "aborted_or_cancelled"
            raise
        except Exception:
            outcome = "internal_error"
            log.exception("unexpected error request_id=%s method=%s", request_id, method)
            await abort_with(context, InternalError(f"internal error (request {request_id})"))
        finally:
            ms = (time.perf_counter() - started) * 1000
            caller = CALLER.get()
            _finished(observers, span, method, request_id, caller.id if caller else "-", outcome, ms, summary)


def _finished(observers: _Observers, span: Any, method: str, request_id: str, key: str, outcome: str, ms: float,
              summary: CallSummary) -> None:
    """The call's access line (the same fields as JSON with PERF_LOG_FORMAT=json), metrics and span status."""
    if observers.metrics is not None:
        observers.metrics.rpcs.labels(method, outcome).inc()
    if outcome != "OK":
        observers.tracing.failed(span, outcome)
    if summary.model:
        span.set_attribute("perf.model", summary.model)
        span.set_attribute("perf.provider", summary.provider)
    fields = {"event": "rpc", "method": method, "request_id": request_id, "key_id": key, "outcome": outcome,
              "ms": round(ms, 1)}
    if summary.model:  # an image request: what the pipeline learnt
        fields.update(model=summary.model, provider=summary.provider or "-", deployment=summary.deployment or "-",
                      images=summary.images, upstream_ms=round(summary.upstream_ms, 1),
                      own_ms=round(max(0.0, ms - summary.upstream_ms), 1))
        log.info("rpc method=%s request_id=%s key=%s outcome=%s ms=%.1f model=%s provider=%s upstream_ms=%.1f",
                 method, request_id, key, outcome, ms, summary.model, summary.provider or "-", summary.upstream_ms,
                 extra={"fields": fields})
    else:
        log.info("rpc method=%s request_id=%s key=%s outcome=%s ms=%.1f", method, request_id, key, outcome, ms,
                 extra={"fields": fields})


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def intercept_service(self, continuation: Callable[..., Awaitable[grpc.RpcMethodHandler]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if not details.method.startswith(SERVICE_PREFIX) or details.method in UNAUTHENTICATED_METHODS:
            return handler
        authorization = _metadata(details, "authorization")
        authenticator = self._authenticator

        def make(inner: Handler) -> Handler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                CALLER.set(await authenticator.authenticate(authorization))
                return await inner(request, context)

            return call

        def make_stream(inner: StreamHandler) -> StreamHandler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                CALLER.set(await authenticator.authenticate(authorization))
                async for message in inner(request, context):
                    yield message

            return call

        return _wrap(handler, make, make_stream)  # type: ignore[return-value]


class AdminAuthInterceptor(grpc.aio.ServerInterceptor):
    """AdminService methods need the admin token (server/admin/auth.py); API keys are never accepted there."""

    def __init__(self, gate: AdminGate) -> None:
        self._gate = gate

    async def intercept_service(self, continuation: Callable[..., Awaitable[grpc.RpcMethodHandler]],
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if not details.method.startswith(ADMIN_PREFIX):
            return handler
        authorization = _metadata(details, "authorization")
        forwarded = _metadata(details, ADDRESS_METADATA)
        gate = self._gate

        def make(inner: Handler) -> Handler:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                ADMIN_CALLER.set(gate.check(authorization, forwarded or peer_host(context.peer())))
                return await inner(request, context)

            return call

        return _wrap(handler, make)  # type: ignore[return-value]
