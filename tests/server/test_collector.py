"""contract.collector: what both processes' mains call once start-up is done."""
from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from contract import collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_freezes_what_exists_and_raises_only_the_young_threshold(restored_collector: None) -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    collector.tune()
    assert gc.get_freeze_count() > 1000  # this test process's modules, at least
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, middle, old)


def test_a_cycle_made_after_tuning_is_collected_without_being_asked(restored_collector: None) -> None:
    collector.tune()

    class Node:
        partner: object

    a, b = Node(), Node()
    a.partner, b.partner = b, a
    gone = weakref.ref(a)
    del a, b
    assert gone() is not None  # only the collector can free a cycle
    kept = [[] for _ in range(2 * collector.YOUNG_THRESHOLD)]  # container allocations: a young collection
    assert gone() is None
    assert len(kept) == 2 * collector.YOUNG_THRESHOLD
