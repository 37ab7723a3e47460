"""Work that must finish even when the request that started it is cancelled, and a way to wait for it.

Money and ledger writes run through `TaskTracker.shielded`: the caller's cancellation does not
cancel them, and shutdown awaits `drain()` before it closes the stores they write to.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine, Iterator
from typing import TypeVar

log = logging.getLogger("perf.server")
T = TypeVar("T")


class TaskTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self._handlers = 0
        self._no_handlers = asyncio.Event()
        self._no_handlers.set()

    @contextlib.contextmanager
    def handler(self) -> Iterator[None]:
        """Marks a request handler in progress: its own cleanup may still start tracked work."""
        self._handlers += 1
        self._no_handlers.clear()
        try:
            yield
        finally:
            self._handlers -= 1
            if not self._handlers:
                self._no_handlers.set()

    def spawn(self, work: Coroutine[object, object, T]) -> asyncio.Task[T]:
        """Run `work` as a task that shutdown waits for. Await it only through a shield (as `shielded`
        and the pipeline do) or not at all: cancelling whoever awaits it must not cancel it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
        return task

    def shielded(self, work: Coroutine[object, object, T]) -> Awaitable[T]:
        """`work` beyond the reach of its caller's cancellation, tracked for shutdown.

        Inside a tracked task already (the pipeline's `_finish` settles the images from one) it runs
        inline: a tracked task is only ever awaited through a shield or not at all, so nothing a
        caller does cancels it, and drain() waits for it. A task and a shield of their own cost
        ~0.05 M instructions, 2 % of a small generation's server work (bench.instructions). Work run
        this way must not set context variables its caller would then see (none of it does)."""
        if asyncio.current_task() in self._tasks:
            return work
        return asyncio.shield(self.spawn(work))

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for handlers to finish their cleanup and for tracked work still running.

        grpc.aio's server.stop() can return before cancelled handlers have run their finally
        blocks (grpc/grpc#37239), which is where ledger rows are written; hence the handler count.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            await asyncio.wait_for(self._no_handlers.wait(), timeout_s)
        except TimeoutError:
            log.error("%d request handlers were still cleaning up %.0fs into shutdown", self._handlers, timeout_s)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
            if pending:
                log.error("%d money/ledger writes did not finish within %.0fs of shutdown", len(pending), timeout_s)
