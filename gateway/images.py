"""The image routes: generations, edits and variations (streamed or not), and serving stored images."""
from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate

import grpc
from aiohttp import web

from contract import image_urls
from gateway import sse
from gateway.context import REQUEST_ID, SETTINGS, STUB, SlowBody, json_response, read_body, rpc_metadata
from gateway.errors import error_response, forwarded_headers, public_error
from gateway.forms import Form, edit_request, read_form, variation_request
from gateway.translate import generation_request, generation_response, parse_json_object
from perf.images.v1 import image_service_pb2 as pb

log = logging.getLogger("perf.gateway")


async def create_images(request: web.Request) -> web.StreamResponse:
    rpc_request, stream = generation_request(parse_json_object(await read_body(request)))
    stub = request.app[STUB]
    if stream:
        return await sse.relay(request, stub.StreamGenerateImages(rpc_request, **_call_options(request)))
    return await _answer(request, stub.GenerateImages(rpc_request, **_call_options(request)))


async def edit_images(request: web.Request) -> web.StreamResponse:
    rpc_request, stream = edit_request(await _form(request))
    stub = request.app[STUB]
    if stream:
        return await sse.relay(request, stub.StreamEditImages(rpc_request, **_call_options(request)))
    return await _answer(request, stub.EditImages(rpc_request, **_call_options(request)))


async def create_variation(request: web.Request) -> web.StreamResponse:
    rpc_request = variation_request(await _form(request))
    return await _answer(request, request.app[STUB].CreateImageVariation(rpc_request, **_call_options(request)))


async def _form(request: web.Request) -> Form:
    """The multipart body, streamed against the upload caps and the body deadline."""
    settings = request.app[SETTINGS]
    try:
        async with asyncio.timeout(settings.body_read_timeout_s):
            return await read_form(request, settings.max_upload_file_bytes, settings.max_upload_bytes)
    except TimeoutError:
        raise SlowBody() from None


def _call_options(request: web.Request) -> dict[str, object]:
    return {"metadata": rpc_metadata(request), "timeout": request.app[SETTINGS].request_timeout_s}


async def _answer(request: web.Request, call: grpc.aio.UnaryUnaryCall) -> web.StreamResponse:  # type: ignore[type-arg]
    response = await call
    parts = generation_response(response)
    headers = forwarded_headers(await call.trailing_metadata())
    if len(parts) == 1:
        return json_response(parts[0], headers=headers)
    # Written piece by piece with the exact length: no joined copy of a multi-MB body.
    out = web.StreamResponse(headers={**headers, "Content-Type": "application/json",
                                      "x-request-id": request[REQUEST_ID]})
    out.content_length = sum(map(len, parts))
    await out.prepare(request)
    for part in parts:
        await out.write(part)
    await out.write_eof()
    return out


async def get_image(request: web.Request) -> web.StreamResponse:
    """Streams the image from the server to the client piece by piece: it is never whole in memory here."""
    # The request target exactly as sent, not aiohttp's percent-decoded match_info: the one spelling
    # we issue (no %-escapes, no query string), or not found, before the server does signature work.
    match = image_urls.PATH.fullmatch(request.raw_path)
    if match is None:
        return error_response(public_error("not_found", "no such image"))
    ext = match["ext"]
    rpc_request = pb.GetImageContentRequest(image_id=match["image_id"], expires=int(match["expires"]),
                                            signature=match["signature"], extension=ext)
    call = request.app[STUB].StreamImageContent(rpc_request, metadata=rpc_metadata(request, authorized=False),
                                                timeout=request.app[SETTINGS].request_timeout_s)
    try:
        # Errors (bad signature, expired, store down) arrive before the first piece: still a JSON error.
        first = await call.read()
        if first is grpc.aio.EOF:
            raise web.HTTPNotFound()
        max_age = max(0, first.expires - int(time.time()))
        response = web.StreamResponse(headers={
            "Content-Type": first.content_type,  # detected from the bytes by the server
            "Content-Length": str(first.length),
            "X-Content-Type-Options": "nosniff",
            # Private: a shared cache must not keep serving the image after its URL has expired.
            "Cache-Control": f"private, max-age={max_age}",
            "Expires": formatdate(first.expires, usegmt=True),
            "Content-Disposition": f'inline; filename="{rpc_request.image_id}.{ext}"',
            "x-request-id": request[REQUEST_ID],
        })
        await response.prepare(request)
        try:
            await response.write(first.data)
            while (piece := await call.read()) is not grpc.aio.EOF:
                await response.write(piece.data)
        except (grpc.aio.AioRpcError, ConnectionError) as error:
            # Headers are gone already: the honest signal left is a body short of its Content-Length.
            log.warning("image stream cut short request_id=%s: %r", request[REQUEST_ID], error)
            response.force_close()
        return response
    finally:
        call.cancel()  # a client that hung up must not leave the server streaming to nobody
