"""Reading OpenAI's image stream (`stream: true`): server-sent events in, partial images out as they
arrive, the completed image at the end.

    event: image_generation.partial_image   (image_edit.* for edits)
    data: {"type": "...partial_image", "b64_json": ..., "partial_image_index": 0, ...}

    event: image_generation.completed
    data: {"type": "...completed", "b64_json": ..., "size", "background", "output_format", "usage": {...}}

    event: error
    data: {"type": "error", "error": {"message", "type", "code", "param"}}

Events are routed by the JSON `type`, as the SDKs do; an `error` event (or any frame whose data
carries an `error` object) fails the request as the same error body would before a stream. Lines may
end in LF, CR or CRLF; `:` lines are comments; `data: [DONE]` or the end of the body ends the stream.
Each event is held to a byte cap while it is read (the total is capped by the upstream's reader), so
a single endless line cannot make us hold more than one image's worth. A stream that ends without
its completed event lost an image the upstream has most likely charged for: an UpstreamError, never
retried.
"""
from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from server.catalog.pricing import TokenUsage
from server.errors import UpstreamError
from server.providers.adapters.openai_wire import NAME, reported_background, stream_error, token_usage
from server.providers.base import GeneratedImage, PartialImage
from server.providers.images import BadImage, ImageLimits

log = logging.getLogger("perf.upstream")
_TERMINATOR = re.compile(rb"[\r\n]")


@dataclass(frozen=True)
class ServerSentEvent:
    event: str  # the `event:` field; "" when the frame has none
    data: str  # its `data:` lines joined by "\n"


@dataclass(frozen=True)
class Completed:
    """The stream's outcome: the final image and what the completed event reports with it."""

    image: GeneratedImage
    usage: TokenUsage | None
    background: str | None


async def server_sent_events(chunks: AsyncIterator[bytes],
                             max_event_bytes: int) -> AsyncGenerator[ServerSentEvent, None]:
    """The events of an SSE body, each dispatched at its blank line (and a last one at the end of the body)."""
    event, held = "", 0
    data: list[str] = []
    async for line in _lines(chunks, max_event_bytes):
        if not line:
            if data or event:
                yield ServerSentEvent(event, "\n".join(data))
            event, data, held = "", [], 0
            continue
        held += len(line)
        if held > max_event_bytes:
            raise UpstreamError(f"{NAME} sent a stream event over the cap of {max_event_bytes} bytes")
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        text = value[1:] if value.startswith(b" ") else value
        if name == b"event":
            event = text.decode("utf-8", "replace")
        elif name == b"data":
            data.append(text.decode("utf-8", "replace"))
        # id:, retry: and unknown fields mean nothing for images.
    if data or event:
        yield ServerSentEvent(event, "\n".join(data))


async def _lines(chunks: AsyncIterator[bytes], max_line_bytes: int) -> AsyncIterator[bytes]:
    """Lines without their terminator (LF, CR or CRLF); each new byte is scanned once, however long the line."""
    buffer = bytearray()
    scanned = 0  # buffer[:scanned] holds no terminator
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while True:
            found = _TERMINATOR.search(buffer, scanned)
            if found is None:
                scanned = len(buffer)
                break
            end = found.start()
            if buffer[end] == 0x0D and end + 1 == len(buffer):
                scanned = end  # a CR at the end of the chunk may be half of a CRLF: wait for the next byte
                break
            yield bytes(buffer[start:end])
            start = scanned = end + (2 if buffer[end] == 0x0D and buffer[end + 1] == 0x0A else 1)
        del buffer[:start]
        scanned -= start
        if len(buffer) > max_line_bytes:
            raise UpstreamError(f"{NAME} sent a stream event over the cap of {max_line_bytes} bytes")
    if buffer:
        yield bytes(buffer.rstrip(b"\r"))


async def read_image_stream(chunks: AsyncIterator[bytes], *, limits: ImageLimits, max_event_bytes: int,
                            on_partial: Callable[[PartialImage], Awaitable[None]],
                            finish: Callable[[GeneratedImage], Awaitable[GeneratedImage]]) -> Completed:
    """Hand each partial image to `on_partial` (after `finish`, which conforms it) and return the
    completed one; see the module docstring for what ends the stream and how."""
    events = server_sent_events(chunks, max_event_bytes)
    async with contextlib.aclosing(events):
        async for sse in events:
            if sse.data.startswith("[DONE]"):
                break
            if not sse.data and sse.event != "error":
                continue  # a data-less keepalive
            frame = _json(sse.data) if sse.data else {}
            kind = frame.get("type")
            if sse.event == "error" or kind == "error" or frame.get("error"):
                raise stream_error(frame)
            if not isinstance(kind, str):
                continue
            if kind.endswith(".partial_image"):
                partial = _partial(frame, limits)
                if partial is not None:
                    await on_partial(PartialImage(await finish(partial.image), partial.index))
            elif kind.endswith(".completed"):
                image = _decoded(frame.get("b64_json"), limits)
                if image is None:
                    raise UpstreamError(f"{NAME} streamed an unusable final image")
                return Completed(image, token_usage(frame.get("usage")), reported_background(frame.get("background")))
    raise UpstreamError(f"{NAME}'s stream ended before its completed event")


def _json(data: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"{NAME} sent a malformed stream event") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(f"{NAME} sent a malformed stream event")
    return parsed


def _decoded(b64: Any, limits: ImageLimits) -> GeneratedImage | None:
    if not isinstance(b64, str):
        return None
    try:
        return limits.from_base64(b64)
    except BadImage as exc:
        log.warning("upstream=%s streamed an unusable image: %s", NAME, exc)
        return None


def _partial(frame: dict[str, Any], limits: ImageLimits) -> PartialImage | None:
    # A partial image is a preview: one that is unusable is skipped (the final image may still come, and
    # OpenAI may send fewer partials than asked for anyway), rather than failing a charged generation.
    index = frame.get("partial_image_index")
    image = _decoded(frame.get("b64_json"), limits)
    if image is None or not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    return PartialImage(image, index)
