"""What every gateway handler shares: the app's keys, the request id, body reading, and RPC metadata."""
from __future__ import annotations

import asyncio

import grpc
from aiohttp import web

from contract.tracing import Tracing
from gateway.config import GatewaySettings
from perf.images.v1 import image_service_pb2_grpc as pb_grpc

SETTINGS = web.AppKey("settings", GatewaySettings)
CHANNEL = web.AppKey("channel", grpc.aio.Channel)
STUB = web.AppKey("stub", pb_grpc.ImageServiceStub)
TRACING = web.AppKey("tracing", Tracing)
REQUEST_ID = web.RequestKey("request_id", str)  # a typed key: aiohttp warns about plain strings
# Longer Authorization or Idempotency-Key values cannot be valid (a key is 55 characters with
# "Bearer ", an Idempotency-Key at most 257 with quotes); they are not forwarded, so what reaches
# gRPC metadata (16 KiB for all of it) stays small whatever the client sends.
MAX_FORWARDED_HEADER_CHARS = 512


class SlowBody(Exception):
    """The request body did not arrive within PERF_BODY_READ_TIMEOUT_SECONDS."""


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


async def read_body(request: web.Request) -> bytes:
    """The whole body, or SlowBody: a client that sends less than its Content-Length must not hold on."""
    if request.content.is_eof():
        # All of it has arrived already (a small JSON body comes with its headers): nothing to wait for,
        # so no deadline timer to schedule and cancel (~2 % of the gateway's time per small request).
        return await request.read()
    try:
        async with asyncio.timeout(request.app[SETTINGS].body_read_timeout_s):
            return await request.read()
    except TimeoutError:
        raise SlowBody() from None


def rpc_metadata(request: web.Request, *, authorized: bool = True) -> tuple[tuple[str, str], ...]:
    metadata = [("x-request-id", request[REQUEST_ID])]
    # The request's span as the server span's parent (W3C traceparent); nothing when tracing is off.
    metadata.extend(request.app[TRACING].headers())
    authorization = request.headers.get("Authorization")
    # gRPC refuses non-ASCII metadata values; such a header (or an overlong one) is simply not a
    # key, so the server's usual 401 answers it (gRPC metadata keys must also be lower case).
    if authorized and authorization and _forwardable(authorization):
        metadata.append(("authorization", authorization))
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None:
        # Forwarded as given (the server checks its format); what cannot travel becomes "?", which the
        # server refuses as a malformed key.
        metadata.append(("idempotency-key", idempotency_key if _forwardable(idempotency_key) else "?"))
    return tuple(metadata)


def _forwardable(value: str) -> bool:
    return len(value) <= MAX_FORWARDED_HEADER_CHARS and value.isascii() and value.isprintable()
