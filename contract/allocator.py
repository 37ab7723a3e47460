"""glibc malloc settings for processes that pass multi-megabyte images through, and giving memory back.

Without them a burst of large images leaves both processes holding gigabytes after it ends: each
thread that allocates (gRPC's C-core threads, asyncio.to_thread workers) may get an arena of its
own, and freed image buffers stay in those arenas. So, at process start (PERF_MALLOC_TUNING=0 leaves
glibc's defaults):

- M_ARENA_MAX 2: at most two arenas to hold freed memory, whatever the thread count;
- `trim_forever()` calls malloc_trim(0) every few seconds, which hands every free page of every arena
  back to the kernel (madvise), the middle of the heap included;
- a set M_MMAP_THRESHOLD (which also stops glibc's dynamic rise to 32 MiB):
  - both processes keep image-sized buffers on the heap (threshold 4 MiB, M_TRIM_THRESHOLD 64 MiB),
    where the next request reuses them warm. In the server: With every buffer over 256 KiB in a mapping of its own, each
    copy of a 1.5 MB image paid fresh zero-filled page faults: 11 ms of server CPU per request instead of
    4.8 (16 connections, wrk), and its memory after a burst was the same either way (1,000 × 1.5 MB held
    against a 2 s upstream: 102-104 MB 30 s later, from 80 MB idle);
  - the gateway keeps them on the heap too, except in a burst (more than BURST_ABOVE requests in flight,
    until they are down to CALM), when it maps each buffer over 256 KiB (returned to the kernel at
    free): `BurstPlacement` moves the threshold as a burst begins and ends. On the heap it spends less CPU (5.9 → 2.1 ms per 1.5 MB request
    at 16 connections), but with the heap alone it kept 83-133 MB instead of 77 (58 MB idle) after the
    1,000-request burst, which breaks the "back to 1.5× idle" bound: a burst's response buffers and
    the sockets' write buffers fragment the heap in a way trimming does not undo. Mapped during the
    burst, its buffers never enter the heap.

Other C libraries (musl) ignore all of this: the calls are made only when glibc's symbols exist.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping

log = logging.getLogger("perf.allocator")

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
M_TRIM_THRESHOLD = -1
# (mmap threshold, trim threshold) for a process that reuses image buffers, and for one that maps them.
HEAP_IMAGES = (4 * 1024 * 1024, 64 * 1024 * 1024)
MAPPED_IMAGES = (256 * 1024, 128 * 1024)
ARENA_MAX = 2
TRIM_INTERVAL_S = 5.0
# Above this many requests in flight the gateway is in a burst (its closed loops run at 1-64 at once), and
# it stays in one until the count is back at CALM: the heap then takes only the last few answers' buffers.
BURST_ABOVE = 128
CALM = 16


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def tune(env: Mapping[str, str] | None = None) -> bool:
    """Apply the settings above, image buffers on the heap; True when they took effect."""
    env = os.environ if env is None else env
    if _LIBC is None or env.get("PERF_MALLOC_TUNING", "1") == "0":
        return False
    global _tuned
    _tuned = _LIBC.mallopt(M_ARENA_MAX, ARENA_MAX) == 1 and _place(HEAP_IMAGES)
    if not _tuned:
        log.warning("mallopt refused the allocator settings; glibc defaults stay")
    return _tuned


_tuned = False  # tune() took effect: BurstPlacement only moves thresholds it set


def _place(thresholds: tuple[int, int]) -> bool:
    assert _LIBC is not None
    mmap_threshold, trim_threshold = thresholds
    return _LIBC.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and _LIBC.mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1


class BurstPlacement:
    """The gateway's request count in flight, and where image-sized buffers go because of it: each in a
    mapping of its own from the moment the count passes `burst_above` until it is back at `calm`, on the
    heap otherwise (see the module's docstring). Called from the event loop only; mallopt runs only as
    a burst begins and ends, not per request."""

    def __init__(self, burst_above: int = BURST_ABOVE, calm: int = CALM) -> None:
        self._burst_above, self._calm = burst_above, calm
        self._in_flight = 0
        self._in_burst = False

    def started(self) -> None:
        self._in_flight += 1
        if self._in_flight > self._burst_above and not self._in_burst:
            self._in_burst = True
            if _tuned:
                _place(MAPPED_IMAGES)

    def finished(self) -> None:
        self._in_flight -= 1
        if self._in_flight <= self._calm and self._in_burst:
            self._in_burst = False
            if _tuned:
                _place(HEAP_IMAGES)


def trim() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


async def trim_forever(interval_s: float = TRIM_INTERVAL_S) -> None:
    """Give free heap pages back every `interval_s` (in a worker thread: a trim walks the heap)."""
    if _LIBC is None:
        return
    while True:
        await asyncio.sleep(interval_s)
        await asyncio.to_thread(trim)
