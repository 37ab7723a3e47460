"""server/runtime/tasks.py: shielded work outlives its caller's cancellation, from a request's task or
from inside tracked work (where it runs inline, without a task of its own), and drain() waits for it."""
from __future__ import annotations

import asyncio

import pytest

from server.runtime.tasks import TaskTracker


def test_work_shielded_from_a_request_survives_the_request_being_cancelled() -> None:
    async def scenario() -> list[str]:
        tracker, done = TaskTracker(), []

        async def work() -> None:
            await asyncio.sleep(0.05)
            done.append("written")

        async def request() -> None:
            await tracker.shielded(work())

        handler = asyncio.ensure_future(request())
        await asyncio.sleep(0.01)
        handler.cancel()  # the caller hangs up mid-write
        with pytest.raises(asyncio.CancelledError):
            await handler
        await tracker.drain(5)
        return done

    assert asyncio.run(scenario()) == ["written"]


def test_inside_tracked_work_shielded_work_runs_inline_and_still_outlives_the_caller() -> None:
    async def scenario() -> tuple[list[str], bool]:
        tracker, done = TaskTracker(), []
        tasks_seen: list[asyncio.Task[object] | None] = []

        async def settle() -> None:
            tasks_seen.append(asyncio.current_task())
            await asyncio.sleep(0.05)
            done.append("settled")

        async def finish() -> None:  # as the pipeline's _finish: spawned, awaited through a shield
            tasks_seen.append(asyncio.current_task())
            await tracker.shielded(settle())
            done.append("finished")

        async def request() -> None:
            await asyncio.shield(tracker.spawn(finish()))

        handler = asyncio.ensure_future(request())
        await asyncio.sleep(0.01)
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler
        await tracker.drain(5)
        return done, tasks_seen[0] is tasks_seen[1]

    done, same_task = asyncio.run(scenario())
    assert done == ["settled", "finished"]
    assert same_task  # no task of its own: inline in the tracked one


def test_a_request_task_gets_a_task_of_its_own_for_shielded_work() -> None:
    async def scenario() -> bool:
        tracker = TaskTracker()
        seen: list[asyncio.Task[object] | None] = []

        async def work() -> None:
            seen.append(asyncio.current_task())

        await tracker.shielded(work())
        return seen[0] is not asyncio.current_task()

    assert asyncio.run(scenario())
