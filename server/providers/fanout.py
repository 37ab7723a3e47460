"""n images from n independent upstream calls (or downloads), run together and cancelled together.

Each call yields an image, None when moderation withheld it, or raises a PerfError. A failing call
does not cancel its siblings: each may already be billed upstream, so its image is worth
delivering. What the request gets:
  some images          → those images (in call order), plus how many moderation withheld
  none, all moderated  → ContentPolicyViolation
  none, a failure      → that failure (the first one)
A cancelled request cancels every call at once (TaskGroup): no task outlives the request.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from server.errors import ContentPolicyViolation, PerfError
from server.providers.base import GeneratedImage
from server.runtime.request_context import REQUEST_ID

log = logging.getLogger("perf.upstream")

Outcome = GeneratedImage | None | PerfError


async def gather_images(n: int, call: Callable[[int], Awaitable[GeneratedImage | None]],
                        upstream: str) -> tuple[list[GeneratedImage], int]:
    """(images, filtered) from `call(0..n-1)`, by the rules in the module docstring."""

    async def one(index: int) -> Outcome:
        try:
            return await call(index)
        except PerfError as error:
            return error

    if n == 1:
        outcomes = [await one(0)]
    else:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i)) for i in range(n)]
        outcomes = [task.result() for task in tasks]
    images = [o for o in outcomes if isinstance(o, GeneratedImage)]
    moderated = [o for o in outcomes if o is None or isinstance(o, ContentPolicyViolation)]
    failures = [o for o in outcomes if isinstance(o, PerfError) and not isinstance(o, ContentPolicyViolation)]
    if images:
        for failure in failures:
            log.warning("upstream=%s request_id=%s delivering %d of %d images; one call failed: %s",
                        upstream, REQUEST_ID.get() or "-", len(images), n, failure.message)
        return images, len(moderated)
    if failures:
        raise failures[0]
    explicit = [o for o in moderated if isinstance(o, ContentPolicyViolation)]
    raise explicit[0] if explicit else ContentPolicyViolation(
        f"{upstream}'s moderation withheld every image generated for this prompt")
