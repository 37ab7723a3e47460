"""One request's provider call, down its chain of deployments (Router.chain), past open circuits.

    for each deployment in order, skipping one whose circuit is open (breakers.py):
      delivered                        → done; the breaker counts a success
      a 200 without any image          → 502 upstream_error, counted as a failure, NOT fallen over:
                                         the upstream took the work and may have charged for it
      a failure that provably charged
      nothing (PerfError.retry_safe)   → counted as a failure, then the next deployment is asked:
                                         connect refused or timed out, a 429 the deadline could not
                                         wait out, a 503 to the submit (each adapter marks these)
      any other failure                → counted, answered as it is: never asked of a second host
                                         once the first may have accepted (and charged) the work
      "model gone" (ModelGone)         → the deployment is retired (lifecycle.py) and the chain
                                         re-made, so its successor is asked at once
    nothing left to ask → the last failure, or, when every circuit was open, 503 provider_unavailable
    with retry_after = the soonest a circuit lets a call through.

An async job (job_hooks.py) hears of each deployment before its upstream is asked, and its adapter
gets the job's Resumption; a job resumed after its worker stopped asks only the deployment that
worker had reached, past its breaker (the upstream already holds the work).

Test keys have one route, the sandbox, and no breakers. The caller's deadline covers the whole chain.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from server.database.records import ApiKey
from server.errors import (
    ContentPolicyViolation,
    InvalidRequest,
    ModelGone,
    PerfError,
    ProviderUnavailable,
    Timeout,
    UpstreamError,
)
from server.pipeline.breakers import Ticket
from server.pipeline.job_hooks import JobHooks
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import Route, Router
from server.providers.base import GenerationResult, PartialImage
from server.runtime.request_context import REQUEST_ID

log = logging.getLogger("perf.server")


def upstream_failed(error: PerfError) -> bool | None:
    """True: the upstream failed to deliver (its breaker counts it); False: it answered properly
    (a refusal of the request itself); None: says nothing about the upstream (our own fault)."""
    if isinstance(error, ModelGone):
        return None
    if isinstance(error, (UpstreamError, Timeout, ProviderUnavailable)):
        return True
    if isinstance(error, (ContentPolicyViolation, InvalidRequest)):
        return False
    return None


# Hears of each provider call: its route, how long it took, and its error type (None: it delivered).
Attempted = Callable[[Route, float, str | None], None]


def _ignore(route: Route, seconds: float, error_type: str | None) -> None:
    return None


class Failover:
    def __init__(self, router: Router) -> None:
        self._router = router
        self._breakers = router.breakers

    async def generate(self, caller: ApiKey, valid: ImageRequest, time_remaining: float | None,
                       on_partial: Callable[[PartialImage], Awaitable[None]] | None,
                       routed: Callable[[Route], None],
                       attempted: Attempted = _ignore,
                       hooks: JobHooks | None = None) -> tuple[Route, GenerationResult]:
        """The route that delivered and its result; `routed` hears of every route asked, in order,
        `attempted` of every provider call's time and outcome (for metrics), and an async job's `hooks`
        of the upstream it enters (so a successor can resume it)."""
        started = time.monotonic()
        tried: set[str] = set()
        waits: list[float] = []
        last: PerfError | None = None
        resuming = hooks.resuming if hooks is not None else None
        while (found := self._next(caller, valid, tried, waits, resuming)) is not None:
            route, ticket = found
            routed(route)
            remaining = None if time_remaining is None else time_remaining - (time.monotonic() - started)
            job = self._router.job_for(route, valid, remaining, on_partial)
            if hooks is not None and route.deployment is not None and not route.sandbox:
                await hooks.entering_upstream(route.deployment.id)
                job = replace(job, resumption=hooks.resumption(route.deployment.id))
            called = time.monotonic()
            try:
                result = await route.provider.generate(job)
            except PerfError as error:
                attempted(route, time.monotonic() - called, error.type)
                if isinstance(error, ModelGone):
                    _abandon(ticket)
                    if route.deployment is None or route.sandbox or error.retry_safe is not True:
                        raise
                    self._router.lifecycles.retire(route.deployment, error.message)
                    last = error
                    continue
                _settle(ticket, upstream_failed(error))
                if error.retry_safe is not True or route.sandbox:
                    raise
                last = error
                log.warning("deployment %s failed before its upstream took the work (%s): asking the next "
                            "request_id=%s", route.deployment.id if route.deployment else "-", error.message,
                            REQUEST_ID.get() or "-")
                continue
            except BaseException:
                attempted(route, time.monotonic() - called, "cancelled")
                _abandon(ticket)  # a hang-up or a bug says nothing about the upstream
                raise
            attempted(route, time.monotonic() - called, None if result.images else
                      "content_policy_violation" if result.filtered else "upstream_error")
            if not result.images:
                name = route.deployment.provider if route.deployment else "the provider"
                if result.filtered:
                    _settle(ticket, False)
                    raise ContentPolicyViolation(f"{name}'s moderation withheld every image generated for this "
                                                 "prompt")
                _settle(ticket, True)
                raise UpstreamError(f"{name} answered without any image", retry_safe=False)
            _settle(ticket, False)
            return route, result
        if last is not None:
            raise last
        if resuming is not None:
            raise UpstreamError(f"the deployment {resuming} that holds this job's upstream task is no longer "
                                "configured here; it cannot be resumed", retry_safe=False)
        raise ProviderUnavailable(
            f"{valid.model.id} is unavailable: every upstream deployment serving it is failing and "
            "paused (circuit open); retry later", retry_after=min(waits) if waits else None, retry_safe=True,
            metadata={"model": valid.model.id})

    def _next(self, caller: ApiKey, valid: ImageRequest, tried: set[str], waits: list[float],
              resuming: str | None = None) -> tuple[Route, Ticket | None] | None:
        """The next route to ask and its breaker ticket; None when none is left."""
        for route in self._router.chain(caller, valid):
            if resuming is not None and not route.sandbox:
                if route.deployment is None or route.deployment.id != resuming or resuming in tried:
                    continue
                tried.add(resuming)
                return route, None
            if route.sandbox or route.deployment is None:
                if "" in tried:
                    return None
                tried.add("")
                return route, None
            deployment = route.deployment.id
            if deployment in tried:
                continue
            tried.add(deployment)
            admitted = self._breakers.admit(deployment)
            if isinstance(admitted, Ticket):
                return route, admitted
            waits.append(admitted)
            log.info("deployment %s skipped: its circuit is open for %.1fs more request_id=%s", deployment,
                     admitted, REQUEST_ID.get() or "-")
        return None


def _settle(ticket: Ticket | None, failed: bool | None) -> None:
    if ticket is None:
        return
    if failed is None:
        ticket.abandoned()
    elif failed:
        ticket.failed()
    else:
        ticket.succeeded()


def _abandon(ticket: Ticket | None) -> None:
    if ticket is not None:
        ticket.abandoned()
