"""OpenAI image streaming (``stream: true``) for the fake's generations and edits, as the SDKs parse it.

Asked for by JSON ``"stream": true`` on ``/v1/images/generations`` or the form field ``stream=true`` on
``/v1/images/edits``; GPT image models only, and only with ``n`` = 1 (otherwise 400 "Streaming is only
supported with n=1.", ``param: n``, the answer OpenAI is reported to give). Everything decided before the
first byte -- auth, validation, rate limit, input moderation, ``fail_before_charge_next`` -- is the
ordinary JSON error with its HTTP status. Otherwise: 200, ``Content-Type: text/event-stream;
charset=utf-8``, ``Cache-Control: no-cache``, ``x-request-id``, chunked, and these frames (one ``event:``
line, one ``data:`` line of compact JSON, a blank line; ``<kind>`` is ``image_generation`` or
``image_edit``)::

    event: <kind>.partial_image
    data: {"type": "<kind>.partial_image", "b64_json": ..., "created_at": <unix s>, "size": "WxH",
           "quality": "low|medium|high", "background": "opaque|transparent",
           "output_format": "png|jpeg|webp", "partial_image_index": 0}

    ... ``partial_images`` of them (0..3), index 0 first, each the final image less pixelated than the
    one before (same pixel size, format, compression and alpha as the final image) ...

    event: <kind>.completed
    data: {"type": "<kind>.completed", "b64_json": ..., "created_at", "size", "quality", "background",
           "output_format", "usage": {"total_tokens", "input_tokens", "output_tokens",
                                      "input_tokens_details": {"text_tokens", "image_tokens"}}}

and then the connection closes (no ``[DONE]``; both SDKs end on EOF). ``usage`` is the non-streamed
request's (no ``output_tokens_details``, as the event type has none) plus 100 output tokens per partial
image sent, which is what OpenAI's image guide says each partial image costs. The charge (ChargeLog, at
list price) is recorded once the final image exists -- after the partial images, before the completed
event -- even if the client has hung up by then (the upstream finishes the work and bills it).

Failures after the 200, as the error frame both SDKs raise on (``openai.APIError`` with ``.code``)::

    event: error
    data: {"type": "error", "error": {"type": "server_error", "code": "image_generation_failed",
                                      "message": "...", "param": null}}

then close. Output moderation on a stream is that frame with the ``moderation_blocked`` error body of a
non-streamed request, sent before any partial image and not charged.

Knobs: ``stream_event_interval_s`` (pause before each event), ``stream_partials_sent`` (send fewer
partials than asked for), ``stream_fail_next`` and ``fail_after_charge_next`` (charged, then the error
frame instead of the completed event), ``stream_drop_next`` (charged, then the connection is cut after the
partials without the terminating chunk), ``malformed_body_next`` (charged, the completed frame cut in
half, then the connection closed).
"""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import base
from .images import progressive
from .knobs import Knobs
from .openai_rules import ApiError

STARTED: web.RequestKey[float] = web.RequestKey("started", float)
PARTIAL_IMAGE_TOKENS = 100  # output image tokens each partial image adds (OpenAI's image generation guide)


def headers(request: web.Request) -> dict[str, str]:
    """The headers every OpenAI answer carries; a stream must send them before its first byte."""
    return {"x-request-id": request[base.REQUEST_ID], "openai-version": "2020-10-01",
            "openai-processing-ms": str(int((time.monotonic() - request[STARTED]) * 1000))}


def frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + base.dumps(data) + b"\n\n"


def error_frame(error: dict[str, Any]) -> bytes:
    return frame("error", {"type": "error", "error": error})


def event_usage(usage: dict[str, Any], partials: int) -> dict[str, Any]:
    """The completed event's usage: the request's, plus the partial images' output tokens."""
    extra = PARTIAL_IMAGE_TOKENS * partials
    return {"total_tokens": usage["total_tokens"] + extra, "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"] + extra,
            "input_tokens_details": dict(usage["input_tokens_details"])}


async def respond(request: web.Request, knobs: Knobs, job: dict[str, Any], usage: dict[str, Any], kind: str,
                  charge: Callable[[dict[str, Any]], None], blocked: ApiError | None) -> web.StreamResponse:
    """Stream ``job`` as ``<kind>.partial_image`` events then ``<kind>.completed`` (see the module docstring)."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream; charset=utf-8",
                                                   "Cache-Control": "no-cache", **headers(request)})
    await resp.prepare(request)

    gone = False  # the client hung up: the upstream carries on (and bills), nobody reads the rest

    async def send(data: bytes) -> None:
        nonlocal gone
        if knobs.stream_event_interval_s > 0:
            await asyncio.sleep(knobs.stream_event_interval_s)
        if not gone:
            try:
                await resp.write(data)
            except ConnectionError:
                gone = True

    def cut() -> web.StreamResponse:
        # No terminating chunk: the client sees the body end early, as when an upstream dies.
        if request.transport is not None:
            request.transport.close()
        return resp

    if blocked is not None:
        await send(error_frame(blocked.body["error"]))
        return resp
    wanted = job["partial_images"]
    sent = wanted if knobs.stream_partials_sent is None else max(0, min(wanted, knobs.stream_partials_sent))
    # Encoding up to four frames of a large image takes a while: off the loop, so other requests go on.
    frames = await asyncio.to_thread(progressive, job["w"], job["h"], job["format"], wanted,
                                     job["background"] == "transparent", job["compression"])
    final = knobs.image_override if knobs.image_override is not None else frames[-1]
    common = {"created_at": int(time.time()), "size": f"{job['w']}x{job['h']}", "quality": job["quality"],
              "background": job["background"], "output_format": job["format"]}
    for i in range(sent):
        await send(frame(f"{kind}.partial_image", {"type": f"{kind}.partial_image",
                                                    "b64_json": base64.b64encode(frames[i]).decode(),
                                                    **common, "partial_image_index": i}))
    final_usage = event_usage(usage, sent)
    charge(final_usage)  # the image exists now: whatever happens to the bytes, it is billed
    if knobs.take("stream_drop_next"):
        return cut()
    if knobs.take("stream_fail_next") or knobs.take("fail_after_charge_next"):
        await send(error_frame({"type": "server_error", "code": "image_generation_failed",
                                "message": "Image generation failed due to an internal error. Please "
                                           "try again.", "param": None}))
        return resp
    completed = frame(f"{kind}.completed", {"type": f"{kind}.completed",
                                            "b64_json": base64.b64encode(final).decode(), **common,
                                            "usage": final_usage})
    if knobs.take("malformed_body_next"):
        await send(completed[: len(completed) // 2])
        return cut()
    await send(completed)
    return resp
