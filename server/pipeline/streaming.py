"""A streamed request: the pipeline's one run, with its events handed out as they happen.

The run goes on in its own task and puts events (partial images, then the completed event) into a
queue; the caller reads them in order. When the run fails after events have gone out, its error is
raised after them (the gRPC status then ends the stream; the gateway turns it into an SSE `error`
event). A caller that goes away cancels the run: before the upstream has delivered that costs
nothing, after it the pipeline finishes delivering, billing and recording anyway.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.pipeline.call import Call
from server.pipeline.kinds import Kind
from server.pipeline.pipeline import Pipeline


class _Queue:
    def __init__(self) -> None:
        self.events: asyncio.Queue[pb.ImageStreamEvent] = asyncio.Queue()

    async def put(self, event: pb.ImageStreamEvent) -> None:
        await self.events.put(event)


async def streamed(pipeline: Pipeline, kind: Kind, request: Any, call: Call) -> AsyncIterator[pb.ImageStreamEvent]:
    sink = _Queue()
    run = asyncio.create_task(pipeline.run(kind, request, replace(call, events=sink)))
    try:
        while True:
            next_event = asyncio.ensure_future(sink.events.get())
            await asyncio.wait({next_event, run}, return_when=asyncio.FIRST_COMPLETED)
            if next_event.done():
                yield next_event.result()
                continue
            next_event.cancel()
            while not sink.events.empty():
                yield sink.events.get_nowait()
            run.result()  # its PerfError, if it failed, ends the stream with that status
            return
    finally:
        if not run.done():
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
