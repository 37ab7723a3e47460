"""One rolling window of the in-process limiter as a bounded series of time buckets.

A window of ``window_s`` seconds is cut into buckets of ``width_s = granularity_s(window_s)``
whole seconds, aligned to multiples of the width on the limiter's clock: bucket ``b`` holds the
images reserved in ``[b·width, (b+1)·width)``. Bucket ``b`` is counted as if all its images had
been reserved at its END, ``(b+1)·width``, so it counts while ``now < (b+1)·width + window_s``.
Counting late is the conservative direction: nothing is forgotten before its true time, so the
window never admits more than its limit over any rolling ``window_s``, and a retry-after computed
from bucket ends is never earlier than the truth. It can be later by at most one width.

At most ``ceil(window_s / width_s) + 1`` buckets count at once, so the state of a window is
bounded by its length, not by the request rate: with 144 buckets per window, a minute is 61
one-second buckets and a day 145 ten-minute buckets.

``reserve.lua`` implements the same arithmetic in microseconds; keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# Each window is cut into this many buckets (of whole seconds, at least one): the precision is
# 1/144 of the window (a second for the minute, ten minutes for the day).
BUCKETS_PER_WINDOW = 144


def granularity_s(window_s: int) -> int:
    """Bucket width for a window: window_s / 144 rounded up to whole seconds, at least 1 s."""
    return max(1, -(-window_s // BUCKETS_PER_WINDOW))


class BucketWindow:
    """Images per bucket (index → images, oldest first) and their total, for one window."""

    __slots__ = ("window_s", "width_s", "buckets", "total")

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self.width_s = granularity_s(window_s)
        # Insertion order is time order: images are only ever added to the current bucket, and
        # the clock never goes backwards, so ageing pops from the front.
        self.buckets: dict[int, int] = {}
        self.total = 0

    @classmethod
    def build(cls, window_s: int, settled: Iterable[tuple[float, int]], pending: Iterable[tuple[float, int]],
              now: float) -> BucketWindow:
        """A window started from remembered images, each placed no earlier than it happened.

        ``settled`` are (latest possible time, images): each lands in the bucket whose end is at
        or after that time (or, if that is later, the current bucket: it happened by now).
        ``pending`` are (reservation time, images) and land in the bucket of
        that time, where :meth:`remove` will look for them on release.
        """
        win = cls(window_s)
        width = win.width_s
        # Everything remembered happened by now, so no image needs a bucket after the current
        # one; capping there keeps buckets in time order for the reservations still to come.
        current = math.floor(now / width)
        acc: dict[int, int] = {}
        for until, n in settled:
            b = min(math.ceil(until / width) - 1, current)
            acc[b] = acc.get(b, 0) + n
        for t, n in pending:
            b = math.floor(t / width)
            acc[b] = acc.get(b, 0) + n
        win.buckets = {b: n for b, n in sorted(acc.items()) if n > 0}
        win.total = sum(win.buckets.values())
        win.age(now)
        return win

    def index(self, t: float) -> int:
        """The bucket a reservation at time t goes into."""
        return math.floor(t / self.width_s)

    def end(self, b: int) -> int:
        """The time bucket b's images are counted at."""
        return (b + 1) * self.width_s

    def age(self, now: float) -> None:
        """Forget buckets that no longer count (end + window_s <= now)."""
        buckets = self.buckets
        while buckets:
            b = next(iter(buckets))
            if self.end(b) + self.window_s > now:
                break
            self.total -= buckets.pop(b)

    def add(self, t: float, n: int) -> None:
        """Count n images reserved at time t (never earlier than any image already counted)."""
        b = self.index(t)
        self.buckets[b] = self.buckets.get(b, 0) + n
        self.total += n

    def remove(self, t: float, n: int) -> None:
        """Give back n images reserved at time t, if their bucket is still held."""
        b = self.index(t)
        held = self.buckets.get(b)
        if held is None:
            return  # already aged out: nothing left to give back in this window
        if held > n:
            self.buckets[b] = held - n
        else:
            del self.buckets[b]  # an empty bucket must not set the reset time
        self.total -= n

    def settled_parts(self, pending: Iterable[tuple[float, int]]) -> list[tuple[float, int]]:
        """(end time, images) of every bucket, without the pending reservations in it."""
        counts = dict(self.buckets)
        for t, n in pending:
            b = self.index(t)
            if b in counts:
                counts[b] -= n
        return [(float(self.end(b)), n) for b, n in counts.items() if n > 0]

    def retry_after(self, limit: int, n: int, now: float) -> float:
        """Seconds until n more images fit: enough of the oldest buckets have stopped counting."""
        if n > limit:
            return float(self.window_s)  # can never fit; the caller rejects this up front
        need = self.total + n - limit
        for b, held in self.buckets.items():
            need -= held
            if need <= 0:
                return self.end(b) + self.window_s - now
        return float(self.window_s)  # unreachable: need <= total whenever n <= limit

    def reset_after(self, now: float) -> float:
        """Seconds until everything counted now has stopped counting (0 when nothing is)."""
        if not self.buckets:
            return 0.0
        newest = next(reversed(self.buckets))
        return self.end(newest) + self.window_s - now
