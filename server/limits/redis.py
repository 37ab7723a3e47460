"""Redis image limiter: exact across any number of server replicas, in bounded memory.

Every decision is one Lua script run atomically inside Redis (``reserve.lua`` for
check-and-reserve across all windows, ``finish.lua`` for settle/release), so two replicas can
never both take the last image, and one request costs one round trip. The scripts read the
time with ``TIME`` inside Redis: a replica with a skewed clock can neither let more through nor
lock other replicas out (reliability.md §3.2, measured with ``limits``' client-side timestamps).

The windows are bucketed exactly as in the in-process backend (``buckets.py``: 144 buckets per
window, counted at their end), so per subject Redis holds at most 61 + 145 bucket fields plus one
entry per pending reservation, whatever the request rate. Key layout per subject, all under one
hash tag so Redis Cluster keeps them in one slot (see ``common.lua`` for the fields):

    <prefix>{<subject>}:bkt      HASH  "<window>:<bucket>" -> images
    <prefix>{<subject>}:meta     HASH  per window: length, bucket range, running total; "#hwm"
    <prefix>{<subject>}:pending  HASH  rid -> "<reservation time µs>:<n>" for pending reservations
    <prefix>{<subject>}:leases   ZSET  rid scored by lease deadline (µs)

(The names differ from the earlier sliding log's ``:log``/``:win``/``:pend``/``:lease``, so
keys left by that version are never misread; they expire within a day.) Every reserve re-arms
PEXPIRE to max(longest window + its bucket width, lease) + 1 s, so idle subjects vanish.
Errors (Redis down) propagate: whether to fail open or closed is the caller's policy.

Commands go over one pipelined connection (resp.py): requests' EVALSHAs issued in one loop turn
leave in one write, without redis-py's per-command work, which was most of what the limiter cost
this process. A script Redis has forgotten (NOSCRIPT, after a restart) is loaded and run again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import NoScriptError

from server.limits.base import (
    DEFAULT_LEASE_S,
    Admitted,
    Refused,
    WindowLimit,
    WindowState,
    validate,
)
from server.limits.resp import RespClient

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_COMMON = (_HERE / "common.lua").read_text()
RESERVE_LUA = _COMMON + (_HERE / "reserve.lua").read_text()
FINISH_LUA = _COMMON + (_HERE / "finish.lua").read_text()


def _report(mode: str, reservation_id: str, done: int) -> None:
    """finish.lua's answer: 1 done, 0 not pending, -1 settled after its lease (released instead)."""
    if mode != "settle":
        return
    if done == 0:
        log.warning("settle of unknown, settled or released reservation %s", reservation_id)
    elif done < 0:
        log.warning("settle after lease expiry of reservation %s: not counted", reservation_id)


class Script:
    """A Lua script Redis runs by its SHA1 (EVALSHA), loaded again when Redis has forgotten it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class RedisLimiter:
    """Bucketed sliding-window limiter whose state and clock live in Redis; see the module docstring."""

    def __init__(self, url: str, key_prefix: str = "perf:rl:", *, lease_s: float = DEFAULT_LEASE_S,
                 timeout_s: float = 2.0) -> None:
        """No I/O here: the connection opens with the first command; ``lease_s`` may be fractional."""
        self._prefix = key_prefix
        self._lease_us = int(lease_s * 1_000_000)
        self._redis = RespClient(url, timeout_s=timeout_s)
        self._reserve = Script(RESERVE_LUA)
        self._finish = Script(FINISH_LUA)

    def keys(self, subject: str) -> list[str]:
        """The four keys of one subject, in the order the scripts expect them."""
        base = f"{self._prefix}{{{subject}}}:"
        return [base + "bkt", base + "meta", base + "pending", base + "leases"]

    async def reserve(self, subject: str, n: int, limits: Sequence[WindowLimit]) -> Admitted | Refused:
        """Admit n images in every window or refuse without counting anything (one round trip)."""
        validate(n, limits)
        rid = uuid.uuid4().hex  # unique member: two reservations in one µs must not collapse
        reply = await self._run_reserve(subject, rid, n, limits)
        status, label, retry, states = reply
        if status == 1:
            return Admitted(label, states)
        return Refused(retry, label, states)

    async def settle(self, subject: str, reservation_id: str) -> None:
        """Keep the reservation counted until it ages out; warn if it was no longer pending."""
        await self._finish_one(subject, reservation_id, "settle")

    async def release(self, subject: str, reservation_id: str) -> None:
        """Give a pending reservation's images back in every window; otherwise do nothing."""
        await self._finish_one(subject, reservation_id, "release")

    async def _finish_one(self, subject: str, reservation_id: str, mode: str) -> None:
        _report(mode, reservation_id, int(await self._run(self._finish, self.keys(subject), [mode, reservation_id])))

    async def _run(self, script: Script, keys: list[str], args: Sequence[str | int]) -> Any:
        try:
            return await self._redis.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._redis.execute("SCRIPT", "LOAD", script.source)
            return await self._redis.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def peek(self, subject: str, limits: Sequence[WindowLimit]) -> tuple[WindowState, ...]:
        """The current state of each window of ``limits`` (ages entries, reserves nothing)."""
        validate(1, limits)
        return (await self._run_reserve(subject, "", 0, limits))[3]

    async def close(self) -> None:
        """Close the connection."""
        await self._redis.close()

    async def _run_reserve(
        self, subject: str, rid: str, n: int, limits: Sequence[WindowLimit]
    ) -> tuple[int, str, int, tuple[WindowState, ...]]:
        """Run reserve.lua and decode its flat reply."""
        args: list[str | int] = [rid, n, self._lease_us]
        for lim in limits:
            args += [lim.name, lim.limit, lim.window_s]
        reply = await self._run(self._reserve, self.keys(subject), args)
        status, label, retry = int(reply[0]), str(reply[1]), int(reply[2])
        flat = reply[3:]
        states = tuple(
            WindowState(str(flat[i]), int(flat[i + 1]), int(flat[i + 2]), int(flat[i + 3]))
            for i in range(0, len(flat), 4)
        )
        return status, label, retry, states
