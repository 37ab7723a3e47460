"""One HTTP fuzz case: send it, judge the answer by the contract, record what it broke."""
from __future__ import annotations

from collections.abc import Callable

from tests.error_shape import problems
from tests.fuzz.budget import Tally
from tests.fuzz.wire import MARK
from tests.rawhttp import Connection, NoReply, RawReply


def check(tally: Tally, target: str, connection: Connection, data: bytes, *, head: bool = False,
          known_method: bool = True, also: Callable[[RawReply], list[str]] | None = None) -> RawReply | None:
    """Send one case and record what, if anything, it broke (`also`: the target's own properties)."""
    try:
        reply = connection.send(data, head=head)
    except (NoReply, OSError) as exc:  # no answer within the timeout is a hang
        tally.record(target, repr(data[:300]), [f"no reply: {exc}"], "none")
        return None
    found = problems(reply.status, reply.headers, reply.body, known_method=known_method, head=head)
    if MARK.encode() in reply.body or any(MARK in value for value in reply.headers.values()):
        found.append("the response echoes the input")
    if also is not None:
        found += also(reply)
    tally.record(target, repr(data[:300]), found, str(reply.status))
    return reply
