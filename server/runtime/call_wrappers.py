"""What runs around every image-service and admin call: request id, logging with a catch-all, authentication.

Each method's wrapper is built once, when its handler is first looked up (grpc_services.py), not per
call: grpc.aio runs a server interceptor chain on every RPC (a coroutine per interceptor, a fresh method
handler, closures and a parser per call), and three interceptors cost the server ~2 % of its work per
small request. One wrapper per method does the same jobs in one coroutine, reading the call's metadata
from its context.

The wrapper sees every outcome: a PerfError becomes its rich status, anything unexpected becomes INTERNAL
with a generic message (the real exception is only logged), and cancellation passes through untouched.
It also parses the request: bytes that are not the method's message are answered INVALID_ARGUMENT /
INVALID_REQUEST, where gRPC itself would answer UNKNOWN naming its DecodeError. Health and reflection
pass through unwrapped.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
Metadata = Sequence[tuple[str, str | bytes]]
SERVICE_PREFIX = "/perf.images.v1.ImageService/"
# The signed image URL is its own credential: fetching an image needs no API key.
UNAUTHENTICATED_METHODS = {SERVICE_PREFIX + "GetImageContent", SERVICE_PREFIX + "StreamImageContent"}


def _metadata(metadata: Metadata, name: str) -> str | None:
    for key, value in metadata:
        if key == name:
            return value if isinstance(value, str) else None
    return None


class _Unparseable:
    """Stands in for a request whose bytes did not parse, so the wrapper can answer it properly."""


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


async def abort_with(context: grpc.aio.ServicerContext, error: PerfError) -> None:
    status = error.to_status()
    await context.abort(ERROR_KINDS[error.type].grpc_code, status.message,
                        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),
                                           ("x-request-id", REQUEST_ID.get()), *rate_limit_metadata()))


@dataclass(frozen=True)
class CallWrappers:
    """Builds each method's wrapper. Without an authenticator or gate (unit tests of the catch-all), the
    calls they would guard run unauthenticated."""

    metrics: ServerMetrics | None = None
    tracing: Tracing = Tracing.off()
    authenticator: Authenticator | None = None
    admin_gate: AdminGate | None = None

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if not method.startswith((SERVICE_PREFIX, ADMIN_PREFIX)):
            return handler  # health and reflection
        guard = self._guard(method)
        name = method.rsplit("/", 1)[-1]
        parse = _lenient(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._unary(name, guard, handler.unary_unary),
                                                       request_deserializer=parse,
                                                       response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self._stream(name, guard, handler.unary_stream),
                                                        request_deserializer=parse,
                                                        response_serializer=handler.response_serializer)
        return handler  # no client-streaming methods in either service

    def _guard(self, method: str) -> Callable[[Metadata, grpc.aio.ServicerContext], Awaitable[None]] | None:
        """Who may call: an API key for the image service (but image content), the admin token for the admin API."""
        if method.startswith(ADMIN_PREFIX):
            gate = self.admin_gate
            if gate is None:
                return None

            async def admin(metadata: Metadata, context: grpc.aio.ServicerContext) -> None:
                forwarded = _metadata(metadata, ADDRESS_METADATA)
                ADMIN_CALLER.set(gate.check(_metadata(metadata, "authorization"), forwarded or peer_host(context.peer())))

            return admin
        authenticator = self.authenticator
        if authenticator is None or method in UNAUTHENTICATED_METHODS:
            return None

        async def api_key(metadata: Metadata, context: grpc.aio.ServicerContext) -> None:
            CALLER.set(await authenticator.authenticate(_metadata(metadata, "authorization")))

        return api_key

    def _unary(self, name: str, guard: Callable[[Metadata, grpc.aio.ServicerContext], Awaitable[None]] | None,
               inner: Handler) -> Handler:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = context.invocation_metadata() or ()
            async with self._handled(context, name, metadata):
                _parsed(request)  # before authentication, as the gateway refuses bad JSON
                if guard is not None:
                    await guard(metadata, context)
                response = await inner(request, context)
                # Trailing, not initial: sending initial metadata early costs a separate write per call
                # (~10% of server CPU under load), and trailers travel with the status anyway.
                context.set_trailing_metadata((("x-request-id", REQUEST_ID.get()), *rate_limit_metadata()))
                return response
            raise AssertionError("unreachable: _handled re-raises or aborts")

        return call

    def _stream(self, name: str, guard: Callable[[Metadata, grpc.aio.ServicerContext], Awaitable[None]] | None,
                inner: StreamHandler) -> StreamHandler:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metadata = context.invocation_metadata() or ()
            async with self._handled(context, name, metadata):
                _parsed(request)
                if guard is not None:
                    await guard(metadata, context)
                async for message in inner(request, context):
                    yield message
                context.set_trailing_metadata((("x-request-id", REQUEST_ID.get()),))

        return call

    @contextlib.asynccontextmanager
    async def _handled(self, context: grpc.aio.ServicerContext, method: str, metadata: Metadata) -> AsyncIterator[None]:
        """One call's request id, outcome, span, metrics and log line: a PerfError becomes its rich status,
        anything unexpected INTERNAL with a generic message (the exception itself only logged)."""
        request_id = accept_request_id(_metadata(metadata, "x-request-id"))
        REQUEST_ID.set(request_id)
        summary = CallSummary()
        SUMMARY.set(summary)
        started = time.perf_counter()
        outcome = "OK"
        tracing = self.tracing
        # The caller's trace context (the gateway's span), when tracing is on.
        parent = ({name: value for name in TRACE_HEADERS if (value := _metadata(metadata, name)) is not None}
                  if tracing.enabled else None)
        with tracing.span(f"perf.server/{method}", kind="server", carrier=parent,
                          attributes={"rpc.system": "grpc", "rpc.method": method, "perf.request_id": request_id}) as span:
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
                self._finished(span, method, request_id, caller.id if caller else "-", outcome, ms, summary)

    def _finished(self, span: Any, method: str, request_id: str, key: str, outcome: str, ms: float,
                  summary: CallSummary) -> None:
        """The call's access line (the same fields as JSON with PERF_LOG_FORMAT=json), metrics and span status."""
        if self.metrics is not None:
            self.metrics.rpcs.labels(method, outcome).inc()
        if outcome != "OK":
            self.tracing.failed(span, outcome)
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
                     method, request_id, key, outcome, ms, summary.model, summary.provider or "-",
                     summary.upstream_ms, extra={"fields": fields})
        else:
            log.info("rpc method=%s request_id=%s key=%s outcome=%s ms=%.1f", method, request_id, key, outcome, ms,
                     extra={"fields": fields})


def _parsed(request: Any) -> None:
    if request is UNPARSEABLE:
        raise InvalidRequest("The request message could not be parsed.")
