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
from server.catalog import Catalog, Deployment, ModelSpec
from server.catalog.capabilities import capabilities
from server.catalog.lifecycle import Lifecycles
from server.catalog.pricing import MICROS, PerImage, PerMegapixel
from server.database import Store
from server.errors import NotFound, ProviderUnavailable
from server.jobs.service import JobService
from server.pipeline.kinds import EDIT_IMAGES, GENERATE, VARY
from server.pipeline.pipeline import Call, Pipeline
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
                                     data=[_model(m, self._lifecycles, self._routing())
                                           for m in self._catalog.models.values()])

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
        model = self._catalog.get(request.model)
        if model is None:
            raise NotFound(f"The model '{echo(request.model)}' does not exist", param="model")
        return _model(model, self._lifecycles, self._routing())

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


def _model(model: ModelSpec, lifecycles: Lifecycles, router: Router | None = None) -> pb.Model:
    can = capabilities(model, lifecycles.serving(model))
    caps = pb.ModelCapabilities(
        sizes=model.sizes, custom_sizes=model.custom_sizes is not None, max_n=model.max_n, qualities=model.qualities,
        styles=model.styles, output_formats=model.output_formats, backgrounds=model.backgrounds,
        moderation=model.moderation, input_fidelity=model.input_fidelity, size_auto=model.size_auto,
        edit_max_images=can.edit_max_images, mask=can.mask, edits_without_mask=can.edits_without_mask,
        variations=can.variations, streams_partial_images=can.streams_partial_images)
    view = lifecycles.view(model)
    served = view.served_by
    out = pb.Model(id=model.id, object="model", created=model.created,
                   owned_by=served.provider if served else "", capabilities=caps,
                   price_model=model.price.kind,
                   lifecycle=pb.Lifecycle(status=view.status, deprecated_on=_day(view.deprecated_on),
                                          shutdown_on=_day(view.shutdown_on),
                                          served_by=pb.ServedBy(provider=served.provider,
                                                                upstream_model=served.upstream_model)
                                          if served else None))
    for name in ("edit_price", "inpaint_price"):
        edit = getattr(model, name)
        if isinstance(edit, PerImage):
            getattr(out, name).CopyFrom(pb.EditPrice(pricing=_prices(edit), input_megapixel_usd=edit.input_mp / MICROS))
    if router is not None:
        out.deployments.extend(_deployment_status(d, router) for d in lifecycles.live_chain(model))
    price = model.price
    if isinstance(price, PerImage):
        out.pricing.extend(_prices(price))
    elif isinstance(price, PerMegapixel):
        out.megapixel_price.CopyFrom(pb.MegapixelPrice(first_megapixel_usd=price.first_mp / MICROS,
                                                       additional_megapixel_usd=price.extra_mp / MICROS,
                                                       input_megapixel_usd=price.input_mp / MICROS))
    else:
        out.token_price.CopyFrom(pb.TokenPrice(text_input_usd=price.text_input / MICROS,
                                               image_input_usd=price.image_input / MICROS,
                                               image_output_usd=price.image_output / MICROS,
                                               text_output_usd=price.text_output / MICROS))
    return out


def _prices(price: PerImage) -> list[pb.Price]:
    return [pb.Price(size=size, quality=quality, usd_per_image=micros / MICROS)
            for (size, quality), micros in price.prices.items()]


def _deployment_status(deployment: Deployment, router: Router) -> pb.DeploymentStatus:
    circuit, wait = router.breakers.view(deployment.id)
    return pb.DeploymentStatus(id=deployment.id, provider=deployment.provider, upstream_model=deployment.upstream_model,
                               configured=router.configured(deployment), circuit=circuit, retry_after_seconds=wait)


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
