"""Where the gateway's image buffers go: on the heap in steady traffic, mapped in a burst.

A middleware counts the requests in flight for contract.allocator.BurstPlacement, which moves glibc's
mmap threshold as the count crosses BURST_ABOVE: warm heap buffers cost a third of the CPU of fresh
mappings per large answer, and mappings leave no fragmented heap behind a 1,000-request burst.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from contract.allocator import BurstPlacement

PLACEMENT = web.AppKey("buffer_placement", BurstPlacement)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def place_buffers(request: web.Request, handler: Handler) -> web.StreamResponse:
    placement = request.app[PLACEMENT]
    placement.started()
    try:
        return await handler(request)
    finally:
        placement.finished()
