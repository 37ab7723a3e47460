"""contract/event_loop.py: uvloop by default, asyncio on request, a clear refusal of anything else."""
from __future__ import annotations

import asyncio

import pytest

from contract import event_loop


async def _loop_module(seen: list[str]) -> None:
    seen.append(type(asyncio.get_running_loop()).__module__)


def test_default_is_uvloop_and_asyncio_can_be_chosen() -> None:
    seen: list[str] = []
    event_loop.run(_loop_module(seen), {})
    event_loop.run(_loop_module(seen), {"PERF_EVENT_LOOP": "asyncio"})
    assert seen[0].startswith("uvloop") and seen[1].startswith("asyncio")


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="PERF_EVENT_LOOP must be one of uvloop, asyncio"):
        event_loop.choice({"PERF_EVENT_LOOP": "trio"})
