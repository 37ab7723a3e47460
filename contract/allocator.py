"""glibc malloc settings for processes that pass multi-megabyte images through, and giving memory back.

Without them a burst of large images leaves both processes holding gigabytes after it ends: each
thread that allocates (gRPC's C-core threads, asyncio.to_thread workers) may get an arena of its
own, and freed image buffers stay in those arenas. So, at process start (PERF_MALLOC_TUNING=0 leaves
glibc's defaults):

- M_ARENA_MAX 2: at most two arenas to hold freed memory, whatever the thread count;
- `trim_forever()` calls malloc_trim(0) every few seconds, which hands every free page of every arena
  back to the kernel (madvise), the middle of the heap included: this is what returns a burst;
- M_MMAP_THRESHOLD fixed at 4 MiB and M_TRIM_THRESHOLD at 64 MiB: an image-sized buffer (a 1.5 MB
  base64 body, its decoded bytes, the gRPC message) comes from the heap and is reused warm by the next
  request. An earlier setting put every buffer over 256 KiB in its own mmap, returned at free; each
  request then paid zero-filled page faults for every copy, which more than doubled the CPU per
  1.5 MB request (gateway 5.9 → 2.1 ms, server 11 → 4.8 ms, 16 connections, wrk) for no gain in
  memory: 1,000 × 1.5 MB held against a 2 s upstream peaked at 1,181 MB (1,096 before) and settled
  30 s later at 178 MB either way, from 135 MB idle. Fixing the threshold also stops glibc's dynamic
  rise to 32 MiB, so larger images (4K and up) still get a mapping of their own.

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
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
ARENA_MAX = 2
TRIM_INTERVAL_S = 5.0


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def tune(env: Mapping[str, str] | None = None) -> bool:
    """Apply the settings above; True when they took effect."""
    env = os.environ if env is None else env
    if _LIBC is None or env.get("PERF_MALLOC_TUNING", "1") == "0":
        return False
    ok = all(_LIBC.mallopt(option, value) == 1 for option, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
                                                                     (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
                                                                     (M_ARENA_MAX, ARENA_MAX)))
    if not ok:
        log.warning("mallopt refused the allocator settings; glibc defaults stay")
    return ok


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
