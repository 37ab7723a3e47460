"""The in-flight image byte budget: first come, first served, and nothing leaks on timeouts or hang-ups."""
from __future__ import annotations

import asyncio

import pytest

from server.errors import ProviderUnavailable
from server.pipeline.budget import (
    HELD_PER_ENCODED_BYTE,
    MIN_BYTES_PER_IMAGE,
    ImageByteBudget,
    ImageSizes,
    estimate_bytes,
)


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


def test_the_estimate_learns_each_models_heaviest_recent_images() -> None:
    sizes = ImageSizes(window=3)
    px = 1024 * 1024
    first = sizes.estimate("m", 2, 1024, 1024)
    sizes.observe("m", 1024, 1024, [10_000])        # a 10 KB image
    small = sizes.estimate("m", 2, 1024, 1024)
    sizes.observe("m", 1024, 1024, [1_500_000])     # then a 1.5 MB one
    heavy = sizes.estimate("m", 1, 1024, 1024)
    sizes.observe("m", 1024, 1024, [10_000, 10_000, 10_000])  # the heavy one leaves the window of 3
    after = sizes.estimate("m", 1, 1024, 1024)
    assert first == estimate_bytes(2, 1024, 1024)    # nothing seen: the fixed guess, 3 bytes per pixel
    assert small == 2 * MIN_BYTES_PER_IMAGE          # 25 KB held per image is below the floor
    assert heavy == int(1_500_000 / px * px * HELD_PER_ENCODED_BYTE)
    assert after == MIN_BYTES_PER_IMAGE
    assert sizes.estimate("other", 1, 1024, 1024) == estimate_bytes(1, 1024, 1024)  # per model


def test_images_heavier_than_their_estimate_grow_the_hold_and_make_newcomers_wait() -> None:
    async def scenario() -> list[object]:
        budget = ImageByteBudget(100, wait_s=0.05)
        seen: list[object] = []
        async with budget.hold(10) as held:
            budget.grow(held, 95)            # they weighed 95 once they arrived
            budget.grow(held, 50)            # never shrinks: the bytes are still there
            seen.append(budget.used)
            with pytest.raises(ProviderUnavailable):
                async with budget.hold(10):
                    pass
        seen.append(budget.used)
        return seen

    assert asyncio.run(scenario()) == [95, 0]
