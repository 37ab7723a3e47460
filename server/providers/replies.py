"""What an upstream answered, and reading its body without ever holding more than a byte cap.

`Reply` is a whole answer (status, headers, body); `StreamedReply` one whose body is still arriving
(server-sent events), read chunk by chunk against its cap. A lying or missing Content-Length changes
nothing: bytes are counted as they come.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from server.errors import UpstreamError
from server.providers.inline_base64 import parse_lifting


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes

    def json(self, upstream: str, lift: str | None = None) -> dict[str, Any]:
        """The body as a JSON object; a broken body after a 200 means the generation happened and was lost.

        With `lift`, the strings under that key (inline base64 images) come as memoryviews of the body,
        not parsed into str (inline_base64.py: a quarter of our server's work on a large image)."""
        try:
            parsed = orjson.loads(self.body) if lift is None else parse_lifting(self.body, lift)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise UpstreamError(f"{upstream} returned a malformed response")
        return parsed

    def error_json(self) -> dict[str, Any]:
        """Best-effort parse of an error body: {} when it is not a JSON object."""
        try:
            parsed = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


class StreamedReply:
    """What submit_stream answered: `reply` has the status and headers (and for any status but 200 the
    body); a 200's body comes from `chunks()` (or `read()`, when it turns out not to be a stream)."""

    def __init__(self, upstream: str, reply: Reply, response: aiohttp.ClientResponse | None, max_bytes: int) -> None:
        self.reply = reply
        self._upstream = upstream
        self._response = response
        self._max_bytes = max_bytes

    @property
    def content_type(self) -> str:
        return self._response.content_type if self._response is not None else ""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, counted against the cap; a cut connection is an UpstreamError."""
        resp = self._response
        assert resp is not None, "only a 200 has a body left to read"
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise UpstreamError(f"{self._upstream} announced a stream over the cap of {self._max_bytes} bytes")
        size = 0
        try:
            async for chunk, _ in resp.content.iter_chunks():  # whole pieces as they arrived: see read_capped
                size += len(chunk)
                if size > self._max_bytes:
                    raise UpstreamError(f"{self._upstream} sent a stream over the cap of {self._max_bytes} bytes")
                if chunk:  # an HTTP chunk's end comes as an empty piece
                    yield chunk
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"{self._upstream} connection failed mid-stream") from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


class BodyTooLarge(Exception):
    """A body went past its byte cap; the message says by how much (for logs)."""


async def read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, counted while it streams in: a lying or missing Content-Length does not matter.

    iter_chunks hands over each piece as the connection delivered it (at most one socket read, or one
    HTTP chunk), so the body is copied once, by the join. iter_chunked(n) joins pieces into n-byte
    slices first: a second copy of every byte, ~2 % of the server's CPU on a 1.5 MB image."""
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise BodyTooLarge(f"Content-Length {resp.content_length} exceeds {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk, _ in resp.content.iter_chunks():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
