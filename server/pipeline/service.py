"""ImageService: converts proto to plain records, runs the generation path, converts back."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any, Coroutine

import grpc
import pybase64

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.accounting.holds import WINDOW_STATES, Accountant
from server.accounting.ledger import LedgerDraft
from server.accounting.usage import Totals, date_range, summarise
from server.catalog import Catalog, ModelSpec
from server.errors import NotFound, PerfError, UpstreamError
from server.pipeline.idempotency import Idempotency, fingerprint, parse_key
from server.storage.signing import UrlSigner
from server.runtime.outages import backend
from server.storage.local import IMAGE_ID, LocalImageStore
from server.storage.mime import MIME_BY_EXTENSION
from server.providers.base import GeneratedImage, Provider
from server.runtime.request_context import REQUEST_ID, current_caller
from server.pipeline.routing import Router
from server.database import Store
from server.database.records import ApiKey
from server.pipeline.validation import GenerationRequest, validate

log = logging.getLogger("perf.server")
MICROS = 1_000_000
INLINE_WRITE_BYTES = 1024 * 1024


class ImageService(pb_grpc.ImageServiceServicer):
    def __init__(self, catalog: Catalog, router: Router, images: LocalImageStore, signer: UrlSigner,
                 accountant: Accountant, store: Store, idempotency: Idempotency) -> None:
        self._catalog = catalog
        self._router = router
        self._images = images
        self._signer = signer
        self._accountant = accountant
        self._store = store
        self._idempotency = idempotency

    async def GenerateImages(self, request: pb.GenerateImagesRequest,
                             context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        with self._accountant.tasks.handler():
            return await self._generate_and_record(request, context)

    async def _generate_and_record(self, request: pb.GenerateImagesRequest,
                                   context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        started = time.perf_counter()
        caller = current_caller()
        draft = LedgerDraft.start(REQUEST_ID.get(), caller, request, self._catalog.default_model)
        try:
            return await self._generate(request, caller, draft, started, context.time_remaining(),
                                        _metadata(context, "idempotency-key"))
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
                await self._headers_without_reservation(caller)

    async def _record(self, draft: LedgerDraft, latency_ms: int) -> None:
        """Write the ledger row before the response leaves; shielded so a hang-up cannot lose it."""
        try:
            await self._accountant.tasks.shielded(self._store.record(draft.entry(latency_ms)))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The generation's outcome stands (its money is already settled); losing the row is logged
            # loudly rather than turned into an error that would hide what really happened.
            log.critical("LEDGER WRITE FAILED request_id=%s key=%s entry=%r", draft.request_id, draft.key.id,
                         draft.entry(latency_ms), exc_info=True)

    async def _generate(self, request: pb.GenerateImagesRequest, caller: ApiKey, draft: LedgerDraft,
                        started: float, time_remaining: float | None,
                        idempotency_key: str | None) -> pb.GenerateImagesResponse:
        valid = validate(request, self._catalog)
        draft.validated(valid)
        provider = self._router.provider_for(caller, valid.model)
        claim = None
        if idempotency_key is not None:
            max_cost = request.max_cost_per_call if request.HasField("max_cost_per_call") else None
            outcome = await self._idempotency.begin(caller, parse_key(idempotency_key), fingerprint(valid, max_cost),
                                                    REQUEST_ID.get())
            if isinstance(outcome, bytes):
                draft.replayed()
                return pb.GenerateImagesResponse.FromString(outcome)
            claim = outcome
        try:
            response = await self._generate_once(valid, provider, caller, draft, started, time_remaining)
        except BaseException:
            if claim is not None:
                await self._tracked_quietly(self._idempotency.release(claim))
            raise
        if claim is not None:
            # Stored before the response leaves, so a retry that arrives at once is already a replay.
            await self._tracked_quietly(self._idempotency.complete(claim, response))
        return response

    async def _tracked_quietly(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await self._accountant.tasks.shielded(work)
        except asyncio.CancelledError:
            raise
        except Exception:  # the generation's outcome stands; a lost claim only weakens a later retry
            log.exception("idempotency bookkeeping failed request_id=%s", REQUEST_ID.get())

    async def _generate_once(self, valid: GenerationRequest, provider: Provider, caller: ApiKey, draft: LedgerDraft,
                             started: float, time_remaining: float | None) -> pb.GenerateImagesResponse:
        accountant = self._accountant
        hold = await accountant.reserve(caller, valid.n, valid.cost_micros)
        try:
            job = self._router.job_for(caller, valid, time_remaining)
            result = await provider.generate(job)
            # Never more than was asked for and reserved, whatever an upstream sends back.
            images = result.images[: valid.n]
            if not images:
                raise UpstreamError("the provider returned no images")
            data = await self._deliver(images, valid.response_format, result.revised_prompt)
            # Only delivered images are billed (an upstream may withhold some).
            cost_micros = valid.unit_price_micros * len(images)
            draft.delivered(len(images), cost_micros, result.model_used)
            await accountant.settle(hold, cost_micros)
        except BaseException:
            await accountant.release(hold)
            raise
        return pb.GenerateImagesResponse(
            created=int(time.time()),
            data=data,
            perf=pb.Perf(request_id=REQUEST_ID.get(), model_used=result.model_used, size=valid.size,
                         quality=valid.quality, cost_usd=cost_micros / MICROS,
                         latency_ms=int((time.perf_counter() - started) * 1000)))

    async def _headers_without_reservation(self, caller: ApiKey) -> None:
        try:
            await self._accountant.peek(caller)
        except Exception:  # headers are a courtesy; never turn a response into an error for them
            log.warning("could not read rate-limit state for key=%s", caller.id, exc_info=True)

    async def GetUsage(self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext) -> pb.Usage:
        caller = current_caller()
        start, end = date_range(request.start, request.end, dt.datetime.now(dt.timezone.utc).date())
        with backend("database"):
            rows = await self._store.usage(start, end, caller.id)
        summary = summarise(rows)
        return pb.Usage(object="usage", key_id=caller.id, mode=caller.mode, start=start, end=end,
                        totals=_totals(summary.totals),
                        days=[pb.DailyUsage(date=d, totals=_totals(t)) for d, t in sorted(summary.days.items())],
                        models=[pb.ModelUsage(model=m, totals=_totals(t)) for m, t in sorted(summary.models.items())])

    async def _deliver(self, images: tuple[GeneratedImage, ...], response_format: str,
                       revised_prompt: str) -> list[pb.Image]:
        if response_format == "b64_json":
            # Encoding is pure CPU on bytes already in memory; small images are cheaper inline than a thread hop.
            return [pb.Image(b64_json=pybase64.b64encode(image.data).decode("ascii"), revised_prompt=revised_prompt)
                    for image in images]
        def store_all() -> list[tuple[str, str]]:
            return [self._images.put(image.data) for image in images]

        # Writing into the page cache is fast; below ~1 MB the thread hop costs more than the write.
        total = sum(len(image.data) for image in images)
        stored = store_all() if total <= INLINE_WRITE_BYTES else await asyncio.to_thread(store_all)
        now = time.time()
        return [pb.Image(url=self._signer.url(image_id, ext, now), revised_prompt=revised_prompt)
                for image_id, ext in stored]

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(object="list", data=[_model(m) for m in self._catalog.models.values()])

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
        model = self._catalog.get(request.model)
        if model is None:
            raise NotFound(f"The model '{request.model}' does not exist", param="model")
        return _model(model)

    async def GetImageContent(self, request: pb.GetImageContentRequest,
                              context: grpc.aio.ServicerContext) -> pb.ImageContent:
        if not IMAGE_ID.fullmatch(request.image_id) or request.extension not in MIME_BY_EXTENSION:
            raise NotFound("no such image")
        self._signer.verify(request.image_id, request.extension, request.expires, request.signature, time.time())
        found = await asyncio.to_thread(self._images.get, request.image_id, request.extension)
        if found is None:
            raise NotFound("no such image")
        data, mime = found
        return pb.ImageContent(content_type=mime, data=data, expires=request.expires)


def _metadata(context: grpc.aio.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name and isinstance(value, str):
            return value
    return None


def _totals(totals: Totals) -> pb.UsageTotals:
    return pb.UsageTotals(requests=totals.requests, failed_requests=totals.failed_requests, images=totals.images,
                          cost_usd=totals.cost_micros / MICROS, billed_usd=totals.billed_micros / MICROS)


def _model(model: ModelSpec) -> pb.Model:
    capabilities = pb.ModelCapabilities(sizes=model.sizes, custom_sizes=model.custom_sizes is not None,
                                        max_n=model.max_n, qualities=model.qualities, styles=model.styles)
    pricing = [pb.Price(size=size, quality=quality, usd_per_image=micros / MICROS)
               for (size, quality), micros in model.prices.items()]
    return pb.Model(id=model.id, object="model", created=model.created, owned_by=model.provider,
                    capabilities=capabilities, pricing=pricing)
