"""Server-sent events for streamed generations and edits, framed as the official SDKs parse them.

Each event is `event: <type>` and one `data:` line of compact JSON whose `type` repeats it (the SDKs
route on that field), then a blank line; the stream ends when the connection closes. Until the first
event arrives nothing is sent, so a refusal (400, 429, 503...) is still the ordinary JSON error with
its status. An error after that is an `event: error` frame carrying the documented error object
under `error`, which both SDKs raise as an APIError.
"""
from __future__ import annotations

import logging
from typing import Any

import grpc
import orjson
import pybase64
from aiohttp import web

from contract.job_json import perf_json, token_usage_json
from gateway.context import REQUEST_ID
from gateway.errors import from_rpc_error
from perf.images.v1 import image_service_pb2 as pb

log = logging.getLogger("perf.gateway")


def event_json(event: pb.ImageStreamEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event.type, "b64_json": pybase64.b64encode(event.image).decode("ascii"),
                            "created_at": event.created_at, "size": event.size, "quality": event.quality,
                            "background": event.background, "output_format": event.output_format}
    if event.type.endswith(".partial_image"):
        body["partial_image_index"] = event.partial_image_index
        return body
    answer = event.response
    if not event.image and answer.data and answer.data[0].data:  # a replayed answer: the stored image
        body["b64_json"] = pybase64.b64encode(answer.data[0].data).decode("ascii")
    if answer.data and answer.data[0].url:
        body["url"] = answer.data[0].url
    if event.HasField("usage"):
        body["usage"] = token_usage_json(event.usage)
    body["perf"] = perf_json(event.perf)
    return body


def frame(event_type: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def relay(request: web.Request, call: grpc.aio.UnaryStreamCall) -> web.StreamResponse:  # type: ignore[type-arg]
    """Relay the server's stream of events to the client as SSE."""
    try:
        first = await call.read()  # a refusal raises here, before any byte: the JSON error path
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache", "x-request-id": request[REQUEST_ID]})
        await response.prepare(request)
        event = first
        try:
            while event is not grpc.aio.EOF:
                await response.write(frame(event.type, event_json(event)))
                event = await call.read()
        except grpc.aio.AioRpcError as failure:
            error = from_rpc_error(failure, request[REQUEST_ID])
            # The documented error object, exactly as a JSON error carries it.
            await response.write(frame("error", {"type": "error", **error.body()}))
        except ConnectionError:
            log.info("client left a stream request_id=%s", request[REQUEST_ID])
            return response
        await response.write_eof()
        return response
    finally:
        call.cancel()  # a client that hung up cancels the run (the server still bills a finished upstream)
