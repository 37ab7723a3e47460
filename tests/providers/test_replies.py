"""read_capped and StreamedReply.chunks over a real socket: every byte back in order however the body
arrives (one write with a Content-Length, many HTTP chunks, chunks of one byte), and the cap counted as
bytes arrive. (Both read the pieces as the connection delivered them, not re-cut: replies.read_capped.)"""
from __future__ import annotations

import os

import aiohttp
import pytest
from aiohttp import web

from server.errors import UpstreamError
from server.providers.replies import BodyTooLarge, Reply, StreamedReply, read_capped
from tests.fakes.server import running
from tests.fakes.testing import sync

BODY = os.urandom(700_000)


def serving(pieces: list[bytes], chunked: bool) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = sum(len(piece) for piece in pieces)
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)  # each its own HTTP chunk when chunked
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/body", handler)
    return app


def split(body: bytes, size: int) -> list[bytes]:
    return [body[at:at + size] for at in range(0, len(body), size)]


SHAPES = {
    "one write, Content-Length": ([BODY], False),
    "64 KiB HTTP chunks": (split(BODY, 65_536), True),
    "odd-sized HTTP chunks": (split(BODY, 9_973), True),
    "one-byte HTTP chunks": (split(BODY[:3_000], 1), True),
}


@pytest.mark.parametrize("shape", SHAPES)
@sync
async def test_every_byte_comes_back_in_order_however_it_arrives(shape: str) -> None:
    pieces, chunked = SHAPES[shape]
    expected = b"".join(pieces)
    async with aiohttp.ClientSession() as http, running(serving(pieces, chunked)) as url:
        async with http.get(url + "/body") as resp:
            assert await read_capped(resp, len(expected)) == expected  # exactly at the cap is allowed
        async with http.get(url + "/body") as resp:
            streamed = StreamedReply("fake", Reply(200, resp.headers, b""), resp, len(expected))
            chunks = [chunk async for chunk in streamed.chunks()]
    assert b"".join(chunks) == expected and all(chunks)  # and never an empty piece


@pytest.mark.parametrize("shape", SHAPES)
@sync
async def test_one_byte_over_the_cap_is_refused_while_it_streams(shape: str) -> None:
    pieces, chunked = SHAPES[shape]
    cap = len(b"".join(pieces)) - 1
    async with aiohttp.ClientSession() as http, running(serving(pieces, chunked)) as url:
        async with http.get(url + "/body") as resp:
            with pytest.raises(BodyTooLarge):
                await read_capped(resp, cap)
        async with http.get(url + "/body") as resp:
            streamed = StreamedReply("fake", Reply(200, resp.headers, b""), resp, cap)
            with pytest.raises(UpstreamError, match="over the cap"):
                _ = [chunk async for chunk in streamed.chunks()]
