"""The one request path every kind of request takes, over either protocol, streamed or not:

    validate → route → (idempotency) → limit + reserve → memory budget → provider → deliver → settle → ledger row

(A spend cap's money is settled by the ledger row's own statement: Store.record.)

An async job (server/jobs/) takes the same path in two parts: `admit` (validate → route → limit +
reserve) at submission, then `run` by a worker under a Call carrying the job's hooks (job_hooks.py),
which skips the reservation already made and the Idempotency-Key step.

A kind (generation, edit, variation: kinds.py) differs only in how its proto request is validated
into an ImageRequest; everything after that is shared. "provider" walks the model's chain of deployments
(failover.py): a fallback is asked only when the one before provably charged nothing. A streamed request is the same run with a
sink for its events (streaming.py). Every exit, error or cancellation included, leaves exactly one
ledger row and gives back whatever was not spent. Once the upstream has delivered (and charged),
the rest runs to the end even if the caller hangs up: the images are stored, billed and recorded.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.accounting.holds import WINDOW_STATES, Accountant, Hold
from server.accounting.ledger import LedgerDraft
from server.accounting.spool import LedgerSpool
from server.database import Store
from server.database.records import ApiKey, LedgerEntry
from server.errors import PerfError, RateLimitExceeded, UpstreamError
from server.pipeline.budget import ImageByteBudget, ImageSizes, held_bytes
from server.pipeline.call import Call
from server.pipeline.delivery import Delivery
from server.pipeline.failover import Failover
from server.pipeline.idempotency import Idempotency, fingerprint, parse_key
from server.pipeline.kinds import Kind, Rules
from server.pipeline.latency import LatencyEstimates
from server.pipeline.requests import VARIATION, ImageRequest
from server.pipeline.responses import completed_events, partial_event, response, upstream_cost
from server.pipeline.routing import Route, Router
from server.providers.base import GenerationResult, PartialImage
from server.providers.images import converted
from server.runtime.metrics import ServerMetrics
from server.runtime.request_context import SUMMARY, CallSummary

log = logging.getLogger("perf.server")


class Pipeline:
    def __init__(self, rules: Rules, router: Router, delivery: Delivery, accountant: Accountant, store: Store,
                 idempotency: Idempotency, spool: LedgerSpool, budget: ImageByteBudget, metrics: ServerMetrics) -> None:
        self._rules = rules
        self._metrics = metrics
        self._spool = spool
        self._budget = budget
        self._sizes = ImageSizes()
        self._latency = LatencyEstimates()
        self._catalog = rules.catalog
        self._router = router
        self._failover = Failover(router)
        self._delivery = delivery
        self._accountant = accountant
        self._store = store
        self._idempotency = idempotency

    async def run(self, kind: Kind, request: Any, call: Call) -> pb.GenerateImagesResponse:
        with self._accountant.tasks.handler(), self._metrics.generation():
            started = time.perf_counter()
            draft = LedgerDraft.start(call.request_id, call.caller, kind.name, request, self._catalog.default_model)
            if call.job is not None:
                draft.id = call.job.ledger_id
            summary = SUMMARY.get()
            if summary is None:  # called without the call wrapper (it sets one per RPC)
                summary = CallSummary()
                SUMMARY.set(summary)
            try:
                return await self._validated(kind, request, call, draft, started)
            except PerfError as error:
                draft.failed(error.type)
                if isinstance(error, RateLimitExceeded):
                    self._metrics.refusals.labels(error.limit).inc()
                raise
            except asyncio.CancelledError:
                draft.failed("cancelled")
                raise
            except Exception:
                draft.failed("internal_error")
                raise
            finally:
                seconds = time.perf_counter() - started
                entry = draft.entry(int(seconds * 1000))
                if call.job is None or not call.job.handed_over:  # a successor finishes (and records) it
                    await self._record(draft, entry)
                    self._metrics.finished(entry, seconds, summary.upstream_ms / 1000)
                elif draft.settles is not None:
                    await self._accountant.settle_money(draft.settles)
                summary.model, summary.provider, summary.deployment = draft.model, draft.provider, draft.deployment
                summary.images = draft.n_delivered
                if WINDOW_STATES.get() is None and call.job is None:
                    await self._headers_without_reservation(call.caller)

    async def admit(self, kind: Kind, request: Any, call: Call) -> tuple[ImageRequest, Route, Hold]:
        """An async job's submission: validate → route → limit + reserve, refused as `run` would refuse it.

        Admitted, it has no ledger row yet (the worker's `run` writes it, once); refused, it has one, as
        a refused synchronous request does."""
        with self._accountant.tasks.handler():
            started = time.perf_counter()
            draft = LedgerDraft.start(call.request_id, call.caller, kind.name, request, self._catalog.default_model)
            try:
                valid = kind.validate(request, self._rules, False)
                draft.validated(valid)
                route = self._router.route(call.caller, valid)
                draft.routed(route)
                return valid, route, await self._accountant.reserve(call.caller, valid.n, valid.estimate_micros)
            except PerfError as error:
                draft.failed(error.type)
                seconds = time.perf_counter() - started
                entry = draft.entry(int(seconds * 1000))
                await self._record(draft, entry)
                self._metrics.finished(entry, seconds, 0.0)
                raise
            finally:
                if WINDOW_STATES.get() is None:
                    await self._headers_without_reservation(call.caller)

    async def abandon(self, kind: Kind, request: Any, caller: ApiKey, request_id: str, hold: Hold, ledger_id: str,
                      error_type: str) -> None:
        """An admitted job that ends without running (cancelled while queued, or taken over where it cannot
        be resumed): its reservation given back, and its one ledger row, failed as `error_type`."""
        draft = LedgerDraft.start(request_id, caller, kind.name, request, self._catalog.default_model)
        draft.id = ledger_id
        with contextlib.suppress(PerfError):
            valid = kind.validate(request, self._rules, False)
            draft.validated(valid)
            draft.routed(self._router.route(caller, valid))
        draft.failed(error_type)
        await self._accountant.release(hold)
        entry = draft.entry(0)
        await self._record(draft, entry)
        self._metrics.finished(entry, 0.0, 0.0)

    async def _validated(self, kind: Kind, request: Any, call: Call, draft: LedgerDraft,
                         started: float) -> pb.GenerateImagesResponse:
        valid = kind.validate(request, self._rules, call.events is not None)
        draft.validated(valid)
        self._router.route(call.caller, valid)  # what no deployment can serve fails before any claim
        if call.idempotency_key is None or call.job is not None:
            return await self._generate(valid, call, draft, started)
        outcome = await self._idempotency.begin(call.caller, parse_key(call.idempotency_key), fingerprint(valid),
                                                call.request_id, call.time_remaining,
                                                self._latency.expected_s(valid.model.id))
        if isinstance(outcome, bytes):
            draft.replayed()
            replayed = pb.GenerateImagesResponse.FromString(outcome)
            if call.events is not None:  # a streamed retry gets the stored answer as its completed event
                event = pb.ImageStreamEvent(
                    type=f"{valid.streamed_event}.completed", created_at=replayed.created, size=replayed.size,
                    quality=replayed.quality, background=replayed.background,
                    output_format=replayed.output_format, perf=replayed.perf)
                event.response.CopyFrom(replayed)  # its images' bytes copied once (see responses.response)
                await call.events.put(event)
            return replayed
        try:
            response = await self._generate(valid, call, draft, started)
        except BaseException:
            await self._tracked_quietly(self._idempotency.release(outcome), call)
            raise
        # Stored before the response leaves, so a retry that arrives at once is already a replay.
        await self._tracked_quietly(self._idempotency.complete(outcome, response), call)
        return response

    async def _generate(self, valid: ImageRequest, call: Call, draft: LedgerDraft,
                        started: float) -> pb.GenerateImagesResponse:
        accountant = self._accountant
        # A job's reservation was made when it was admitted.
        hold = call.job.hold if call.job is not None else await accountant.reserve(call.caller, valid.n,
                                                                                  valid.estimate_micros)
        try:
            inputs = sum(len(i.data) for i in valid.images)
            wanted = self._sizes.estimate(valid.model.id, valid.n, valid.width, valid.height) + inputs
            async with self._budget.hold(wanted, call.time_remaining) as held:
                route, result = await self._provider_call(valid, call, draft)
                delivered = [len(image.data) for image in result.images[: valid.n]]
                self._sizes.observe(valid.model.id, valid.width, valid.height, delivered)
                self._budget.grow(held, held_bytes(delivered) + inputs)
                # From here the upstream has delivered and charged: see it through whatever the caller does.
                finishing = accountant.tasks.spawn(self._finish(valid, route, result, call, draft, hold, started))
                try:
                    return await asyncio.shield(finishing)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(finishing)  # so the ledger row records what was delivered
                    raise
        except BaseException:
            if call.job is None or not call.job.handed_over:  # a successor still needs a handed-over job's hold
                await accountant.release(hold)  # a no-op once settled
            raise

    async def _finish(self, valid: ImageRequest, route: Route, result: GenerationResult, call: Call,
                      draft: LedgerDraft, hold: Hold, started: float) -> pb.GenerateImagesResponse:
        """Deliver, bill and answer for what the upstream returned."""
        # Never more than was asked for and reserved, whatever an upstream sends back.
        images = result.images[: valid.n]
        if not images:
            raise UpstreamError("the provider returned no images")
        images = await converted(images, valid.output)
        # A variation's prompt is ours (catalog data), not the caller's: it is not theirs to see revised.
        revised = "" if valid.kind == VARIATION else result.revised_prompt
        data = await self._delivery.deliver(images, valid.response_format, revised)
        if valid.response_format != "b64_json":
            self._metrics.stored([len(image.data) for image in images])
        draft.stored(data)
        # Only delivered images are billed (an upstream may withhold some).
        cost_micros = valid.cost_micros(len(images), result.usage)
        draft.delivered(len(images), cost_micros, result.model_used, upstream_cost(valid, route, result))
        draft.settles = await self._accountant.settle(hold, cost_micros)  # the money: with the ledger row
        self._latency.observe(valid.model.id, time.perf_counter() - started)
        answer = response(valid, result, images, data, cost_micros, call.request_id, started)
        if call.events is not None:
            for event in completed_events(valid, images, answer):
                await call.events.put(event)
        return answer

    async def _provider_call(self, valid: ImageRequest, call: Call,
                             draft: LedgerDraft) -> tuple[Route, GenerationResult]:
        """The provider's result, from the first deployment of the chain that delivers (failover.py)."""
        sink = call.events

        async def on_partial(partial: PartialImage) -> None:
            if sink is not None:
                await sink.put(partial_event(valid, partial))

        summary = SUMMARY.get()
        metrics = self._metrics

        def attempted(route: Route, seconds: float, error_type: str | None) -> None:
            if summary is not None:
                summary.upstream_ms += seconds * 1000
            deployment = route.deployment
            if route.sandbox or deployment is None:
                metrics.upstream_call("sandbox", "sandbox", seconds, error_type)
            else:
                metrics.upstream_call(deployment.provider, deployment.id, seconds, error_type)

        return await self._failover.generate(call.caller, valid, call.time_remaining,
                                             on_partial if sink is not None else None, draft.routed, attempted,
                                             call.job)

    async def _record(self, draft: LedgerDraft, entry: LedgerEntry) -> None:
        """Write the ledger row before the response leaves; shielded so a hang-up cannot lose it.

        If the store fails, the row goes to the durable local spool instead, which replays it into
        the store once it answers again (server/accounting/spool.py): no billed request loses its row."""
        tasks = self._accountant.tasks
        try:
            await tasks.shielded(self._store.record(entry, draft.settles))
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.error("ledger write failed, spooling the row request_id=%s key=%s", draft.request_id, draft.key.id,
                      exc_info=True)
        try:
            await tasks.shielded(self._spool.put(entry))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Neither the store nor the local disk took it: say everything the row held, loudly.
            log.critical("LEDGER WRITE FAILED request_id=%s key=%s entry=%r", draft.request_id, draft.key.id,
                         entry, exc_info=True)
        if draft.settles is not None:  # alone, then; if the store is down, the hold's lease settles it later
            await self._accountant.settle_money(draft.settles)

    async def _tracked_quietly(self, work: Coroutine[Any, Any, None], call: Call) -> None:
        try:
            await self._accountant.tasks.shielded(work)
        except asyncio.CancelledError:
            raise
        except Exception:  # the generation's outcome stands; a lost claim only weakens a later retry
            log.exception("idempotency bookkeeping failed request_id=%s", call.request_id)

    async def _headers_without_reservation(self, caller: ApiKey) -> None:
        try:
            await self._accountant.peek(caller)
        except Exception:  # headers are a courtesy; never turn a response into an error for them
            log.warning("could not read rate-limit state for key=%s", caller.id, exc_info=True)

