"""The one request path every kind of request takes, over either protocol:

    validate → (idempotency) → limit + reserve → memory budget → route → provider → deliver → settle → ledger row

A kind (generation today; edits and variations later) differs only in how its proto request is
validated into an ImageRequest; everything after that is shared. Every exit, error or
cancellation included, leaves exactly one ledger row and gives back whatever was not spent.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.accounting.holds import WINDOW_STATES, Accountant
from server.accounting.ledger import LedgerDraft
from server.accounting.spool import LedgerSpool
from server.catalog import Catalog
from server.database import Store
from server.database.records import ApiKey
from server.errors import ModelGone, PerfError, UpstreamError
from server.pipeline.budget import ImageByteBudget, estimate_bytes
from server.pipeline.delivery import Delivery
from server.pipeline.idempotency import Idempotency, fingerprint, parse_key
from server.pipeline.latency import LatencyEstimates
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import Route, Router
from server.providers.base import GenerationResult

log = logging.getLogger("perf.server")
MICROS = 1_000_000


@dataclass(frozen=True)
class Call:
    """Who asks, under which request id, until when, and with which Idempotency-Key."""

    caller: ApiKey
    request_id: str
    time_remaining: float | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Kind:
    """A kind of request: its name and how its proto message becomes an ImageRequest."""

    name: str
    validate: Callable[[Any, Catalog], ImageRequest]


class Pipeline:
    def __init__(self, catalog: Catalog, router: Router, delivery: Delivery, accountant: Accountant, store: Store,
                 idempotency: Idempotency, spool: LedgerSpool, budget: ImageByteBudget) -> None:
        self._spool = spool
        self._budget = budget
        self._latency = LatencyEstimates()
        self._catalog = catalog
        self._router = router
        self._delivery = delivery
        self._accountant = accountant
        self._store = store
        self._idempotency = idempotency

    async def run(self, kind: Kind, request: Any, call: Call) -> pb.GenerateImagesResponse:
        with self._accountant.tasks.handler():
            started = time.perf_counter()
            draft = LedgerDraft.start(call.request_id, call.caller, request, self._catalog.default_model)
            try:
                return await self._validated(kind, request, call, draft, started)
            except PerfError as error:
                draft.failed(error.type)
                raise
            except asyncio.CancelledError:
                draft.failed("cancelled")
                raise
            except Exception:
                draft.failed("internal_error")
                raise
            finally:
                await self._record(draft, int((time.perf_counter() - started) * 1000))
                if WINDOW_STATES.get() is None:
                    await self._headers_without_reservation(call.caller)

    async def _validated(self, kind: Kind, request: Any, call: Call, draft: LedgerDraft,
                         started: float) -> pb.GenerateImagesResponse:
        valid = kind.validate(request, self._catalog)
        draft.validated(valid)
        route = self._router.route(call.caller, valid.model)  # an unconfigured provider fails before any claim
        if call.idempotency_key is None:
            return await self._generate(valid, route, call, draft, started)
        outcome = await self._idempotency.begin(call.caller, parse_key(call.idempotency_key), fingerprint(valid),
                                                call.request_id, call.time_remaining,
                                                self._latency.expected_s(valid.model.id))
        if isinstance(outcome, bytes):
            draft.replayed()
            return pb.GenerateImagesResponse.FromString(outcome)
        try:
            response = await self._generate(valid, route, call, draft, started)
        except BaseException:
            await self._tracked_quietly(self._idempotency.release(outcome), call)
            raise
        # Stored before the response leaves, so a retry that arrives at once is already a replay.
        await self._tracked_quietly(self._idempotency.complete(outcome, response), call)
        return response

    async def _generate(self, valid: ImageRequest, route: Route, call: Call, draft: LedgerDraft,
                        started: float) -> pb.GenerateImagesResponse:
        accountant = self._accountant
        hold = await accountant.reserve(call.caller, valid.n, valid.estimate_micros)
        try:
            async with self._budget.hold(estimate_bytes(valid.n, valid.width, valid.height), call.time_remaining):
                route, result = await self._provider_call(valid, route, call, draft)
                # Never more than was asked for and reserved, whatever an upstream sends back.
                images = result.images[: valid.n]
                if not images:
                    raise UpstreamError("the provider returned no images")
                data = await self._delivery.deliver(images, valid.response_format, result.revised_prompt)
                draft.stored(data)
            # Only delivered images are billed (an upstream may withhold some).
            cost_micros = valid.cost_micros(len(images), result.usage)
            draft.delivered(len(images), cost_micros, result.model_used, _upstream_cost(valid, route, result))
            await accountant.settle(hold, cost_micros)
            self._latency.observe(valid.model.id, time.perf_counter() - started)
        except BaseException:
            await accountant.release(hold)
            raise
        return pb.GenerateImagesResponse(
            created=int(time.time()),
            data=data,
            perf=pb.Perf(request_id=call.request_id, model_used=result.model_used, size=valid.size,
                         quality=valid.quality, cost_usd=cost_micros / MICROS,
                         latency_ms=int((time.perf_counter() - started) * 1000)),
            usage=_token_usage(valid, result))

    async def _provider_call(self, valid: ImageRequest, route: Route, call: Call,
                             draft: LedgerDraft) -> tuple[Route, GenerationResult]:
        """The provider's result; a deployment its upstream reports gone is retired and its successor asked
        (a gone model generated and charged nothing, so asking again cannot pay twice)."""
        while True:
            draft.routed(route)
            job = self._router.job_for(route, valid, call.time_remaining)
            try:
                return route, await route.provider.generate(job)
            except ModelGone as gone:
                if route.deployment is None or route.sandbox or gone.retry_safe is not True:
                    raise
                self._router.lifecycles.retire(route.deployment, gone.message)
                route = self._router.route(call.caller, valid.model)

    async def _record(self, draft: LedgerDraft, latency_ms: int) -> None:
        """Write the ledger row before the response leaves; shielded so a hang-up cannot lose it.

        If the store fails, the row goes to the durable local spool instead, which replays it into
        the store once it answers again (server/accounting/spool.py): no billed request loses its row."""
        entry = draft.entry(latency_ms)
        tasks = self._accountant.tasks
        try:
            await tasks.shielded(self._store.record(entry))
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


def _upstream_cost(valid: ImageRequest, route: Route, result: GenerationResult) -> int:
    """What the upstream charged us: its own figure when it gives one, else its list price."""
    if route.sandbox or route.deployment is None:
        return 0
    if result.upstream_cost_micros is not None:
        return result.upstream_cost_micros
    charged = result.charged_images if result.charged_images is not None else len(result.images)
    usage = result.charged_usage if result.charged_usage is not None else result.usage
    return route.deployment.upstream_price.settle(valid.work, charged, usage)


def _token_usage(valid: ImageRequest, result: GenerationResult) -> pb.TokenUsage | None:
    """OpenAI's `usage` object, for models billed by the token (as OpenAI returns it for gpt-image)."""
    usage = result.usage
    if usage is None or valid.model.price.kind != "per_token":
        return None
    return pb.TokenUsage(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
        input_tokens_details=pb.TokenUsage.Details(text_tokens=usage.text_input, image_tokens=usage.image_input),
        output_tokens_details=pb.TokenUsage.Details(text_tokens=usage.text_output, image_tokens=usage.image_output))
