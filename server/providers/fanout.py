"""Concurrent upstream work (n calls, n downloads) that never hides its failure in an ExceptionGroup.

`concurrently` is the one way adapters run upstream work side by side: each outcome is its value or
the PerfError it raised, so a failing call does not cancel its siblings (each may already be billed
upstream, so its image is worth delivering). Anything that is not a PerfError is a bug: it cancels
the siblings and propagates as itself. A cancelled request cancels every call at once.

`gather_images` applies the delivery rule to n image calls:
  some images          → those images (in call order), plus how many moderation withheld
  none, all moderated  → ContentPolicyViolation
  none, a failure      → that failure (the first one), as its own documented type; safe to retry
                         elsewhere (retry_safe) only when every call failed that way
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from server.errors import ContentPolicyViolation, PerfError
from server.providers.base import GeneratedImage
from server.runtime.request_context import REQUEST_ID

log = logging.getLogger("perf.upstream")
T = TypeVar("T")


async def _outcome(call: Callable[[], Awaitable[T]]) -> T | PerfError:
    try:
        return await call()
    except PerfError as error:
        return error


async def concurrently(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T | PerfError]:
    """Each call's value or PerfError, in call order; see the module docstring."""
    if len(calls) == 1:
        return [await _outcome(calls[0])]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_outcome(call)) for call in calls]
    except BaseExceptionGroup as failed:
        # Only a bug gets here (PerfErrors are outcomes): raise it as itself, not wrapped.
        raise _first_leaf(failed) from None
    return [task.result() for task in tasks]


async def first_failure(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Every call's value, or the first PerfError among them (for work that is all-or-nothing)."""
    outcomes = await concurrently(calls)
    for outcome in outcomes:
        if isinstance(outcome, PerfError):
            raise outcome
    return outcomes  # type: ignore[return-value]  # no PerfError left


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def gather_images(n: int, call: Callable[[int], Awaitable[GeneratedImage | None]],
                        upstream: str) -> tuple[list[GeneratedImage], int]:
    """(images, filtered) from `call(0..n-1)`, by the rules in the module docstring."""
    outcomes = await concurrently([functools.partial(call, i) for i in range(n)])
    images = [o for o in outcomes if isinstance(o, GeneratedImage)]
    moderated = [o for o in outcomes if o is None or isinstance(o, ContentPolicyViolation)]
    failures = [o for o in outcomes if isinstance(o, PerfError) and not isinstance(o, ContentPolicyViolation)]
    if images:
        for failure in failures:
            log.warning("upstream=%s request_id=%s delivering %d of %d images; one call failed: %s",
                        upstream, REQUEST_ID.get() or "-", len(images), n, failure.message)
        return images, len(moderated)
    if failures:
        first = failures[0]
        # Safe to ask elsewhere only if no call got through: a moderated one, or one that failed after
        # it was accepted, has been charged, and so has the request as a whole.
        if first.retry_safe is True and (len(failures) < n or any(f.retry_safe is not True for f in failures)):
            first.retry_safe = False
        raise first
    explicit = [o for o in moderated if isinstance(o, ContentPolicyViolation)]
    raise explicit[0] if explicit else ContentPolicyViolation(
        f"{upstream}'s moderation withheld every image generated for this prompt")
