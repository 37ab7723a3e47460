"""The gateway when an image stream breaks: before the first piece the client gets the JSON error; after
it (headers sent) the connection is cut short of Content-Length, never a body that looks complete.

A stand-in ImageService over a real socket plays the server, so the break happens exactly where wanted."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from aiohttp import web

from gateway.app import build_app
from gateway.config import GatewaySettings
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc

PATH = "/v1/images/img_" + "a" * 32 + "/1900000000/" + "s" * 43 + ".png"


class BreakingImages(pb_grpc.ImageServiceServicer):
    def __init__(self, pieces_before_break: int) -> None:
        self._pieces = pieces_before_break

    async def StreamImageContent(self, request: pb.GetImageContentRequest,
                                 context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImageContentChunk]:
        for index in range(self._pieces):
            if index == 0:
                yield pb.ImageContentChunk(content_type="image/png", expires=1900000000, length=3000,
                                           data=b"\x89PNG\r\n\x1a\n" + b"x" * 992)
            else:
                yield pb.ImageContentChunk(data=b"y" * 1000)
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the image store went away")


async def fetch(pieces_before_break: int) -> tuple[int, dict[str, str], bytes | str]:
    server = grpc.aio.server()
    pb_grpc.add_ImageServiceServicer_to_server(BreakingImages(pieces_before_break), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    runner = web.AppRunner(build_app(GatewaySettings(grpc_target=f"127.0.0.1:{port}")))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gateway_port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
                session.get(f"http://127.0.0.1:{gateway_port}{PATH}") as response:
            headers = dict(response.headers)
            try:
                body: bytes | str = await response.read()
            except aiohttp.ClientPayloadError as error:
                body = f"cut: {error!r}"
            except TimeoutError:
                body = "hung: the connection stayed open short of Content-Length"
            return response.status, headers, body
    finally:
        await runner.cleanup()
        await server.stop(0)


def test_a_break_before_the_first_piece_is_the_json_error() -> None:
    status, headers, body = asyncio.run(fetch(0))
    assert status == 503
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(body, bytes) and b'"type":"provider_unavailable"' in body


@pytest.mark.parametrize("pieces", [1, 2])
def test_a_break_after_the_headers_cuts_the_connection_short(pieces: int) -> None:
    status, headers, body = asyncio.run(fetch(pieces))
    assert status == 200 and headers["Content-Length"] == "3000"
    assert isinstance(body, str) and body.startswith("cut:"), body
