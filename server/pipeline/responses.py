"""What a finished request answers, as proto: the response, its stream events, OpenAI's usage object,
and what the upstream charged us. Pure functions over the validated request and the provider's result."""
from __future__ import annotations

import time

from perf.images.v1 import image_service_pb2 as pb
from server.catalog.pricing import MICROS
from server.catalog.sizes import format_size
from server.pipeline.delivery import Delivered
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import Route
from server.providers.base import GeneratedImage, GenerationResult, PartialImage
from server.storage.mime import EXTENSIONS


def response(valid: ImageRequest, result: GenerationResult, images: tuple[GeneratedImage, ...],
             data: list[Delivered], cost_micros: int, request_id: str, started: float) -> pb.GenerateImagesResponse:
    size = delivered_size(valid, images)
    out = pb.GenerateImagesResponse(
        created=int(time.time()),
        perf=pb.Perf(request_id=request_id, model_used=result.model_used, size=size, quality=valid.quality,
                     cost_usd=cost_micros / MICROS, latency_ms=int((time.perf_counter() - started) * 1000)),
        background=delivered_background(valid, result), output_format=delivered_format(images),
        quality=valid.quality, size=size)
    for image in data:
        # Built in place: the bytes are copied into the message once. A pb.Image made first and added with
        # CopyFrom copies them twice; a list of messages in the constructor, extend or append serialises
        # and parses each one again (~0.2 ms per MB, over 1 ms with page faults).
        out.data.add(url=image.url, data=image.data, revised_prompt=image.revised_prompt)
    usage = token_usage(valid, result)
    if usage is not None:
        out.usage.CopyFrom(usage)
    return out


def delivered_size(valid: ImageRequest, images: tuple[GeneratedImage, ...]) -> str:
    """The size made: the promised one, or with `size: auto` whatever the upstream chose."""
    if valid.size_auto and images:
        return format_size(images[0].width, images[0].height)
    return valid.size


def delivered_background(valid: ImageRequest, result: GenerationResult) -> str:
    if valid.output.background != "auto":
        return valid.output.background
    return result.background if result.background in ("transparent", "opaque") else "opaque"


def delivered_format(images: tuple[GeneratedImage, ...]) -> str:
    ext = EXTENSIONS.get(images[0].mime, "png") if images else "png"
    return "jpeg" if ext == "jpg" else ext


def partial_event(valid: ImageRequest, partial: PartialImage) -> pb.ImageStreamEvent:
    image = partial.image
    return pb.ImageStreamEvent(
        type=f"{valid.streamed_event}.partial_image", image=image.data, created_at=int(time.time()),
        size=format_size(image.width, image.height), quality=valid.quality,
        background=valid.output.background if valid.output.background != "auto" else "opaque",
        output_format=delivered_format((image,)), partial_image_index=partial.index)


def completed_events(valid: ImageRequest, images: tuple[GeneratedImage, ...],
                     answer: pb.GenerateImagesResponse) -> list[pb.ImageStreamEvent]:
    # The event carries each image once, as `image`: its response is the answer without the inline bytes.
    light = pb.GenerateImagesResponse(
        created=answer.created, data=[pb.Image(url=i.url, revised_prompt=i.revised_prompt) for i in answer.data],
        perf=answer.perf, background=answer.background, output_format=answer.output_format,
        quality=answer.quality, size=answer.size)
    if answer.HasField("usage"):
        light.usage.CopyFrom(answer.usage)
    events = []
    for image in images:
        event = pb.ImageStreamEvent(
            type=f"{valid.streamed_event}.completed", image=image.data, created_at=answer.created,
            size=answer.size, quality=answer.quality, background=answer.background,
            output_format=answer.output_format, perf=answer.perf, response=light)
        if answer.HasField("usage"):
            event.usage.CopyFrom(answer.usage)
        events.append(event)
    return events


def token_usage(valid: ImageRequest, result: GenerationResult) -> pb.TokenUsage | None:
    """OpenAI's `usage` object, for models billed by the token (as OpenAI returns it for gpt-image)."""
    usage = result.usage
    if usage is None or valid.price.kind != "per_token":
        return None
    return pb.TokenUsage(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
        input_tokens_details=pb.TokenUsage.Details(text_tokens=usage.text_input, image_tokens=usage.image_input),
        output_tokens_details=pb.TokenUsage.Details(text_tokens=usage.text_output, image_tokens=usage.image_output))


def upstream_cost(valid: ImageRequest, route: Route, result: GenerationResult) -> int:
    """What the upstream charged us: its own figure when it gives one, else its list price."""
    if route.sandbox or route.deployment is None:
        return 0
    if result.upstream_cost_micros is not None:
        return result.upstream_cost_micros
    charged = result.charged_images if result.charged_images is not None else len(result.images)
    usage = result.charged_usage if result.charged_usage is not None else result.usage
    price = route.deployment.upstream_price
    edit = route.deployment.edit_route(valid.mask is not None) if valid.images else None
    if edit is not None and edit.upstream_price is not None:
        price = edit.upstream_price
    return price.settle(valid.work, charged, usage)
