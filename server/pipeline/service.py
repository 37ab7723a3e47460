"""ImageService: the gRPC face of the pipeline. Converts proto to calls and records, and back."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator

import grpc

from contract.errors import echo
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.accounting.usage import Totals, date_range, summarise
from server.catalog import Catalog
from server.catalog.lifecycle import Lifecycles
from server.catalog.pricing import MICROS
from server.database import Store
from server.errors import NotFound, ProviderUnavailable
from server.jobs.service import JobService
from server.pipeline.call import Call
from server.pipeline.kinds import EDIT_IMAGES, GENERATE, VARY
from server.pipeline.model_views import model_message
from server.pipeline.pipeline import Pipeline
from server.pipeline.routing import Router
from server.pipeline.streaming import streamed
from server.runtime.outages import backend
from server.runtime.request_context import REQUEST_ID, current_caller
from server.storage.base import ImageStore, ImageStream, open_image, valid_name
from server.storage.signing import UrlSigner


class ImageService(pb_grpc.ImageServiceServicer):
    def __init__(self, catalog: Catalog, lifecycles: Lifecycles, pipeline: Pipeline, images: ImageStore,
                 signer: UrlSigner, store: Store, router: Router | None = None, jobs: JobService | None = None) -> None:
        self._jobs = jobs
        self._lifecycles = lifecycles
        self._router = router
        self._catalog = catalog
        self._pipeline = pipeline
        self._images = images
        self._signer = signer
        self._store = store

    async def GenerateImages(self, request: pb.GenerateImagesRequest,
                             context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        return await self._pipeline.run(GENERATE, request, _call(context))

    async def StreamGenerateImages(self, request: pb.GenerateImagesRequest,
                                   context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImageStreamEvent]:
        async for event in streamed(self._pipeline, GENERATE, request, _call(context)):
            yield event

    async def EditImages(self, request: pb.EditImagesRequest,
                         context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        return await self._pipeline.run(EDIT_IMAGES, request, _call(context))

    async def StreamEditImages(self, request: pb.EditImagesRequest,
                               context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImageStreamEvent]:
        async for event in streamed(self._pipeline, EDIT_IMAGES, request, _call(context)):
            yield event

    async def CreateImageVariation(self, request: pb.CreateImageVariationRequest,
                                   context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        return await self._pipeline.run(VARY, request, _call(context))

    async def SubmitJob(self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return await self._job_service().submit(request, _call(context))

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return await self._job_service().get(request.id, _call(context))

    async def CancelJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return await self._job_service().cancel(request.id, _call(context))

    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        return await self._job_service().list(request, _call(context))

    async def WatchJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[pb.Job]:
        async for job in self._job_service().watch(request.id, _call(context)):
            yield job

    def _job_service(self) -> JobService:
        if self._jobs is None:
            raise ProviderUnavailable("async jobs are not enabled on this server")
        return self._jobs

    async def GetUsage(self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext) -> pb.Usage:
        caller = current_caller()
        start, end = date_range(request.start, request.end, dt.datetime.now(dt.UTC).date())
        with backend("database"):
            rows = await self._store.usage(start, end, caller.id)
        summary = summarise(rows)
        costs = bool(caller.operator)  # upstream costs are the operator's business, not a customer's

        def totals(t: Totals) -> pb.UsageTotals:
            return _totals(t, costs)

        return pb.Usage(object="usage", key_id=caller.id, mode=caller.mode, start=start, end=end,
                        totals=totals(summary.totals),
                        days=[pb.DailyUsage(date=d, totals=totals(t)) for d, t in sorted(summary.days.items())],
                        models=[pb.ModelUsage(model=m, totals=totals(t)) for m, t in sorted(summary.models.items())],
                        providers=[pb.ProviderUsage(provider=p, totals=totals(t))
                                   for p, t in sorted(summary.providers.items())] if costs else [])

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(object="list",
                                     data=[model_message(m, self._lifecycles, self._routing())
                                           for m in self._catalog.models.values()])

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
        model = self._catalog.get(request.model)
        if model is None:
            raise NotFound(f"The model '{echo(request.model)}' does not exist", param="model")
        return model_message(model, self._lifecycles, self._routing())

    def _routing(self) -> Router | None:
        """The router, for operator keys only: which hosts are configured and failing is the operator's business."""
        return self._router if current_caller().operator else None

    async def StreamImageContent(self, request: pb.GetImageContentRequest,
                                 context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImageContentChunk]:
        image = await self._opened(request)
        try:
            first = True
            with backend("image store"):
                async for piece in image.chunks():
                    if first:
                        first = False
                        yield pb.ImageContentChunk(content_type=image.mime, expires=request.expires,
                                                   length=image.length, data=piece)
                    else:
                        yield pb.ImageContentChunk(data=piece)
        finally:
            await image.close()

    async def GetImageContent(self, request: pb.GetImageContentRequest,
                              context: grpc.aio.ServicerContext) -> pb.ImageContent:
        image = await self._opened(request)
        try:
            with backend("image store"):
                data = b"".join([piece async for piece in image.chunks()])
        finally:
            await image.close()
        return pb.ImageContent(content_type=image.mime, data=data, expires=request.expires)

    async def _opened(self, request: pb.GetImageContentRequest) -> ImageStream:
        """The image a signed URL names: the signature first, then the store (an altered URL never reaches it)."""
        if not valid_name(request.image_id, request.extension):
            raise NotFound("no such image")
        # Checks the shape of every part before any HMAC work (gRPC callers reach this directly).
        self._signer.verify(request.image_id, request.extension, request.expires, request.signature, time.time())
        with backend("image store"):
            image = await open_image(self._images, request.image_id, request.extension)
        if image is None:
            raise NotFound("no such image")
        return image


def _call(context: grpc.aio.ServicerContext) -> Call:
    return Call(caller=current_caller(), request_id=REQUEST_ID.get(), time_remaining=context.time_remaining(),
                idempotency_key=_metadata(context, "idempotency-key"))


def _metadata(context: grpc.aio.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name and isinstance(value, str):
            return value
    return None


def _totals(totals: Totals, costs: bool = False) -> pb.UsageTotals:
    out = pb.UsageTotals(requests=totals.requests, failed_requests=totals.failed_requests, images=totals.images,
                         cost_usd=totals.cost_micros / MICROS, billed_usd=totals.billed_micros / MICROS)
    if costs:
        out.upstream_cost_usd = totals.upstream_cost_micros / MICROS
        out.margin_usd = (totals.billed_micros - totals.upstream_cost_micros) / MICROS
    return out
