"""Money reservations and settlements of one key, written to the store a batch at a time.

A reservation locks its key's month row until its commit is on disk (database/queries.py,
RESERVE_SPEND), so concurrent requests of one key used to queue inside PostgreSQL, each backend
sleeping on the lock and waking the next: at 16 connections on one key that waiting cost more
CPU than the statements themselves. Here they queue in the process instead: one statement per key
is in flight, and whatever gathered meanwhile goes as the next, settlements first (they free
money), then the reservations in one statement, all or none. A batch that does not fit is retried
one hold at a time, so the cap stays exact: a reservation is refused only if it alone does not fit.
Other replicas' requests still take turns on the row lock, as before.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from server.database import Store
from server.database.records import SpendHold
from server.runtime.tasks import TaskTracker

# A hold, its cap (reserving) or what it spent (settling), and the future its request awaits.
_Item = tuple[SpendHold, int, "asyncio.Future[bool]"]


@dataclass
class _Waiting:
    reserves: list[_Item] = field(default_factory=list)
    settles: list[_Item] = field(default_factory=list)


class SpendWriter:
    def __init__(self, store: Store, tasks: TaskTracker) -> None:
        self._store = store
        self._tasks = tasks  # shutdown waits for the writes, before it closes the store
        self._waiting: dict[str, _Waiting] = {}  # per key with a write in flight

    def reserve(self, hold: SpendHold, cap_micros: int) -> asyncio.Future[bool]:
        """Resolves to whether `hold` was reserved under `cap_micros`; cancelling a waiter cancels nothing."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue(hold.key_id).reserves.append((hold, cap_micros, future))
        return future

    def settle(self, hold: SpendHold, spent_micros: int) -> asyncio.Future[bool]:
        """Resolves to False when there was nothing to settle (its lease had ended and the sweeper moved it)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue(hold.key_id).settles.append((hold, spent_micros, future))
        return future

    def _queue(self, key_id: str) -> _Waiting:
        waiting = self._waiting.get(key_id)
        if waiting is None:
            waiting = self._waiting[key_id] = _Waiting()
            self._tasks.spawn(self._write_until_idle(key_id, waiting))
        return waiting

    async def _write_until_idle(self, key_id: str, waiting: _Waiting) -> None:
        taken: list[_Item] = []
        await asyncio.sleep(0)  # let the requests that are ready right now join the first batch
        try:
            while waiting.reserves or waiting.settles:
                settles, waiting.settles = waiting.settles, []
                reserves, waiting.reserves = waiting.reserves, []
                taken = settles + reserves
                if settles:
                    await self._settle(settles)
                for batch in _same_month_and_cap(reserves):
                    await self._reserve(batch)
        finally:
            del self._waiting[key_id]
            for _, _, future in taken + waiting.reserves + waiting.settles:
                future.cancel()  # a no-op on those answered; the rest only if this task itself was cancelled

    async def _settle(self, settles: list[_Item]) -> None:
        try:
            settled = await self._store.settle_spend([(hold, spent) for hold, spent, _ in settles])
        except Exception as error:
            for _, _, future in settles:
                future.set_exception(error)
            return
        for hold, _, future in settles:
            future.set_result(hold.id in settled)

    async def _reserve(self, batch: list[_Item]) -> None:
        cap = batch[0][1]
        attempts = [batch] if len(batch) == 1 else [batch] + [[one] for one in batch]
        for attempt in attempts:
            if all(future.done() for _, _, future in attempt):
                continue
            try:
                admitted = await self._store.reserve_spend([hold for hold, _, _ in attempt], cap)
            except Exception as error:
                for _, _, future in attempt:
                    if not future.done():
                        future.set_exception(error)
                continue
            if admitted or len(attempt) == 1:
                for _, _, future in attempt:
                    if not future.done():
                        future.set_result(admitted)


def _same_month_and_cap(reserves: list[_Item]) -> list[list[_Item]]:
    """One statement reserves holds of one month under one cap (a cap changed mid-batch splits it)."""
    groups: dict[tuple[str, int], list[_Item]] = {}
    for item in reserves:
        groups.setdefault((item[0].month, item[1]), []).append(item)
    return list(groups.values())
