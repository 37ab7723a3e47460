"""ImageService: converts proto to plain records, runs the generation path, converts back."""
from __future__ import annotations

import asyncio
import base64
import time

import grpc

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.catalog import Catalog, ModelSpec
from server.errors import NotFound, UpstreamError
from server.images.signing import UrlSigner
from server.images.storage import IMAGE_ID, LocalImageStore
from server.images.mime import MIME_BY_EXTENSION
from server.providers.base import GeneratedImage
from server.request_context import REQUEST_ID, current_caller
from server.routing import Router
from server.validation import validate

MICROS = 1_000_000


class ImageService(pb_grpc.ImageServiceServicer):
    def __init__(self, catalog: Catalog, router: Router, images: LocalImageStore, signer: UrlSigner) -> None:
        self._catalog = catalog
        self._router = router
        self._images = images
        self._signer = signer

    async def GenerateImages(self, request: pb.GenerateImagesRequest,
                             context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        started = time.perf_counter()
        caller = current_caller()
        valid = validate(request, self._catalog)
        provider = self._router.provider_for(caller, valid.model)
        job = self._router.job_for(caller, valid, context.time_remaining())
        result = await provider.generate(job)
        if not result.images:
            raise UpstreamError("the provider returned no images")
        data = await self._deliver(result.images, valid.response_format, result.revised_prompt)
        cost_micros = valid.unit_price_micros * len(result.images)
        return pb.GenerateImagesResponse(
            created=int(time.time()),
            data=data,
            perf=pb.Perf(request_id=REQUEST_ID.get(), model_used=result.model_used, size=valid.size,
                         quality=valid.quality, cost_usd=cost_micros / MICROS,
                         latency_ms=int((time.perf_counter() - started) * 1000)))

    async def _deliver(self, images: tuple[GeneratedImage, ...], response_format: str,
                       revised_prompt: str) -> list[pb.Image]:
        if response_format == "b64_json":
            # Encoding is pure CPU on bytes already in memory; small images are cheaper inline than a thread hop.
            return [pb.Image(b64_json=base64.b64encode(image.data).decode("ascii"), revised_prompt=revised_prompt)
                    for image in images]
        stored = await asyncio.to_thread(lambda: [self._images.put(image.data) for image in images])
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


def _model(model: ModelSpec) -> pb.Model:
    capabilities = pb.ModelCapabilities(sizes=model.sizes, custom_sizes=model.custom_sizes is not None,
                                        max_n=model.max_n, qualities=model.qualities, styles=model.styles)
    pricing = [pb.Price(size=size, quality=quality, usd_per_image=micros / MICROS)
               for (size, quality), micros in model.prices.items()]
    return pb.Model(id=model.id, object="model", created=model.created, owned_by=model.provider,
                    capabilities=capabilities, pricing=pricing)
