"""The outermost middleware: each request's span, metrics and access line.

It wraps request_id_and_errors (gateway/app.py), so it sees every request's final status and public
error type, whatever went wrong inside. The span is current while the handler runs, which is how
rpc_metadata (gateway/context.py) puts its traceparent into the gRPC call. The access line (with
PERF_ACCESS_LOG=1) carries the request id, route, status, error type and time; the server's line for
the same request id adds the key, model, provider and upstream time.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from contract.tracing import Tracing
from gateway.context import REQUEST_ID, SETTINGS, TRACING
from gateway.errors import ERROR_TYPE
from gateway.metrics import GatewayMetrics, route_of

access = logging.getLogger("perf.gateway.access")

METRICS = web.AppKey("metrics", GatewayMetrics)
# Probes and scrapes: counted, never traced (a span every few seconds per pod says nothing).
UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
# What a handler cancelled by the client's hang-up is counted as (nginx's "client closed request").
CLIENT_CLOSED = 499

OFF = Tracing.off()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    metrics, tracing = app[METRICS], app[TRACING]
    route = route_of(request)
    if route in UNTRACED:
        tracing = OFF
    started = time.perf_counter()
    status, error_type = CLIENT_CLOSED, "cancelled"
    metrics.in_flight.inc()
    try:
        with tracing.span(f"{request.method} {route}", kind="server", carrier=request.headers,
                          attributes={"http.request.method": request.method, "http.route": route}) as span:
            try:
                response = await handler(request)
            except asyncio.CancelledError:
                tracing.failed(span, "cancelled")
                raise
            status, error_type = response.status, response.get(ERROR_TYPE, "")
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("perf.request_id", request.get(REQUEST_ID, ""))
            if status >= 500:
                tracing.failed(span, error_type or str(status))
            return response
    finally:
        seconds = time.perf_counter() - started
        metrics.in_flight.dec()
        metrics.finished(route, request.method, status, error_type, seconds)
        if app[SETTINGS].access_log:
            _access_line(request, route, status, error_type, seconds)


def _access_line(request: web.Request, route: str, status: int, error_type: str, seconds: float) -> None:
    request_id = request.get(REQUEST_ID, "-")
    ms = round(seconds * 1000, 1)
    fields = {"event": "http", "request_id": request_id, "method": request.method, "route": route,
              "status": status, "error_type": error_type, "ms": ms, "remote": request.remote or "-"}
    # The route template, never the path: an image URL's path and query are its signature.
    access.info("http method=%s route=%s status=%d error=%s ms=%.1f request_id=%s", request.method, route, status,
                error_type or "-", ms, request_id, extra={"fields": fields})
