"""Rebuild the in-process limiter from the ledger when the server starts.

The embedded default keeps its limiter in memory, so a restart used to forget every image it had
admitted, the 24-hour window included (a key with a day limit of 10 got 20 images in one day
across one restart). The ledger already knows: it is durable and gets a row for every request
before its response leaves, and a settled reservation is exactly a row that delivered images.
One grouped query at start-up returns them per key for the last 24 hours, per second for the last
two minutes and per minute before, each group stamped with the latest time its reservations can
have happened; the limiter places each group in a bucket ending no earlier than that, so what was
admitted before the restart is never forgotten early (it may count up to a bucket width longer).

With Redis the limiter's state outlives a server restart by itself, so this is only used with the
in-process limiter. Reservations still pending when the process died have no row and delivered
nothing to their client; they are not restored.
"""
from __future__ import annotations

import logging
import time

from server.accounting.tiers import DAY_S, MINUTE_S
from server.database import Store
from server.limits import InProcessLimiter

log = logging.getLogger("perf.accounting")

# The windows every key has, as windows_for names them.
WINDOWS = {"minute": MINUTE_S, "day": DAY_S}
# Rows this recent are grouped per second (the minute window's bucket width), older ones per minute.
_FINE_S = 2 * MINUTE_S


async def restore_limiter(store: Store, limiter: InProcessLimiter, wall_now: float | None = None) -> int:
    """Seed the limiter with the images admitted in the last 24 h; returns the number of keys seeded."""
    now = time.time() if wall_now is None else wall_now
    # A minute more than the day: a row's group may end up to a minute after its created_at.
    since = int(now) - max(WINDOWS.values()) - MINUTE_S
    rows = await store.admitted_images(since, int(now) - _FINE_S)
    keys = limiter.restore(((row.key_id, float(row.until), row.images) for row in rows), WINDOWS, now)
    log.info("rate limiter rebuilt from the ledger: %d images of %d keys admitted in the last 24 h",
             sum(row.images for row in rows), keys)
    return keys
