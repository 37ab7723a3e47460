"""Run a fake provider app on 127.0.0.1 with an ephemeral port, from async or from sync code.

``async with running(app) as base_url`` serves on the caller's event loop; ``FakeServer(app).start()``
serves on a private loop in a daemon thread (for sync tests, or for code that owns its own loop) and
returns the base URL; ``.stop()`` shuts it down. Either way the base URL has no trailing slash.
An ``Application`` can be run only once, so build a fresh one per server.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

# Short grace period on shutdown: a fake may be mid-way through an endless body or a slow answer,
# and tests must not wait aiohttp's default 60 s for it.
SHUTDOWN_TIMEOUT_S = 0.5


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT_S, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on this event loop for the duration of the block; yields the base URL."""
    runner, base_url = await _start(app)
    try:
        yield base_url
    finally:
        await runner.cleanup()


class FakeServer:
    """Serve ``app`` from a background thread with its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.base_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self, timeout_s: float = 10) -> str:
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._runner, self.base_url = loop.run_until_complete(_start(self.app))
            except BaseException as exc:  # hand start-up errors to the caller's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            # Handlers still sleeping on a latency knob would otherwise die noisily with the loop.
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError("fake server did not start")
        if failure:
            raise failure[0]
        assert self.base_url is not None
        return self.base_url

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
