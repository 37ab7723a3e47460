"""A CLIENT span for every HTTP call to an upstream, from aiohttp's request tracing hooks.

Every upstream session (server/providers/registry.py) gets this TraceConfig when tracing is on, so
submits, polls and image downloads of every adapter are covered without touching the adapters. The
span's parent is whatever span is current where the call is made: the RPC's server span
(server/runtime/call_wrappers.py). Only the method, host, port and path are recorded: a query
string may hold an upstream key (some APIs take `?key=`), and nothing is propagated to the upstream,
which is a third party outside our trace.
"""
from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from contract.tracing import Tracing


def upstream_trace_configs(tracing: Tracing) -> tuple[aiohttp.TraceConfig, ...]:
    """The hooks for `aiohttp.ClientSession(trace_configs=...)`; none when tracing is off (no cost)."""
    if not tracing.enabled:
        return ()
    config = aiohttp.TraceConfig()

    async def started(session: aiohttp.ClientSession, context: SimpleNamespace,
                      params: aiohttp.TraceRequestStartParams) -> None:
        url = params.url
        context.span = tracing.start(f"upstream {params.method}", kind="client", attributes={
            "http.request.method": params.method, "server.address": url.host or "", "server.port": url.port or 0,
            "url.path": url.path})

    async def ended(session: aiohttp.ClientSession, context: SimpleNamespace,
                    params: aiohttp.TraceRequestEndParams) -> None:
        span = getattr(context, "span", None)
        if span is None:
            return
        status = params.response.status
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            tracing.failed(span, str(status))
        span.end()

    async def failed(session: aiohttp.ClientSession, context: SimpleNamespace,
                     params: aiohttp.TraceRequestExceptionParams) -> None:
        span = getattr(context, "span", None)
        if span is None:
            return
        tracing.failed(span, type(params.exception).__name__)
        span.end()

    config.on_request_start.append(started)
    config.on_request_end.append(ended)
    config.on_request_exception.append(failed)
    return (config,)
