"""The in-flight image byte budget: first come, first served, and nothing leaks on timeouts or hang-ups."""
from __future__ import annotations

import asyncio

import pytest

from server.errors import ProviderUnavailable
from server.pipeline.budget import ImageByteBudget


def test_waiters_are_served_in_order_and_a_large_head_is_not_overtaken() -> None:
    async def scenario() -> list[str]:
        budget = ImageByteBudget(100, wait_s=5)
        order: list[str] = []

        async def use(name: str, size: int, hold_s: float) -> None:
            async with budget.hold(size):
                order.append(name)
                await asyncio.sleep(hold_s)

        first = asyncio.create_task(use("first", 80, 0.05))
        await asyncio.sleep(0)
        big = asyncio.create_task(use("big", 90, 0.01))
        await asyncio.sleep(0)
        small = asyncio.create_task(use("small", 10, 0.01))  # would fit now, but big came first
        await asyncio.gather(first, big, small)
        assert budget.used == 0
        return order

    assert asyncio.run(scenario()) == ["first", "big", "small"]


def test_timeouts_and_cancellations_give_everything_back() -> None:
    async def scenario() -> int:
        budget = ImageByteBudget(100, wait_s=0.05)
        async with budget.hold(100):
            with pytest.raises(ProviderUnavailable) as refused:
                async with budget.hold(50):
                    pass
            assert refused.value.retry_after == 1 and refused.value.retry_safe
            waiter = asyncio.create_task(budget.hold(50, time_remaining=30).__aenter__())
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        async with budget.hold(500):  # larger than the whole budget: runs, alone
            assert budget.used == 100
        return budget.used

    assert asyncio.run(scenario()) == 0
