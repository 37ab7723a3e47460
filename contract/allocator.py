"""glibc malloc settings for processes that pass multi-megabyte images through, and giving memory back.

Without them a burst of large images leaves both processes holding gigabytes after it ends. glibc
raises its mmap threshold dynamically up to 32 MiB once a large mmapped block is freed, so from then
on every 1.5 MB image buffer comes from the heap, where freed chunks fragment the arenas and are
rarely returned; and each thread that allocates (gRPC's C-core threads, asyncio.to_thread workers)
may get an arena of its own. So, at process start (PERF_MALLOC_TUNING=0 leaves glibc's defaults):

- M_MMAP_THRESHOLD fixed at 256 KiB: image-sized buffers are always their own mapping, returned to
  the kernel the moment they are freed (fixing the threshold also turns the dynamic rise off);
- M_ARENA_MAX 2: at most two arenas to fragment, whatever the thread count;
- and `trim_forever()` calls malloc_trim(0) every few seconds, which returns free heap pages that
  small-object churn leaves behind.

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
MMAP_THRESHOLD_BYTES = 256 * 1024
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
    ok = _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and _LIBC.mallopt(M_ARENA_MAX, ARENA_MAX) == 1
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
