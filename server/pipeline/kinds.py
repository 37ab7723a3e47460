"""The kinds of request: how each proto message becomes the one ImageRequest the pipeline runs.

    generation  GenerateImagesRequest        prompt → images
    edit        EditImagesRequest            prompt + 1..16 images (+ a mask of the first) → images
    variation   CreateImageVariationRequest  one image → images like it (an edit with the model's
                                             variation prompt, catalog data)

Everything after this (limits, routing, the provider, storage, accounting) is the same for all.
Whether the serving deployment can edit (how many images, a mask) is checked by the router, which
knows the deployment.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import Catalog, ModelSpec
from server.catalog.sizes import MAX_CUSTOM_SIDE, MIN_CUSTOM_SIDE, deliverable_size, format_size
from server.errors import InvalidRequest
from server.pipeline.inputs import InputLimits, input_images, mask_image
from server.pipeline.requests import EDIT, GENERATION, VARIATION, ImageRequest, OutputSpec
from server.pipeline.validation import (
    budget,
    count,
    model_of,
    optional,
    output_of,
    prompt_of,
    quality_of,
    response_format_of,
    size_of,
    stream_of,
    style_of,
    user_of,
)
from server.providers.base import GeneratedImage


@dataclass(frozen=True)
class Rules:
    """What validation checks requests against."""

    catalog: Catalog
    inputs: InputLimits = InputLimits()


@dataclass(frozen=True)
class Kind:
    name: str
    validate: Callable[[Any, Rules, bool], ImageRequest]  # (proto request, rules, streamed?)


def validate_generation(request: pb.GenerateImagesRequest, rules: Rules, streaming: bool) -> ImageRequest:
    prompt = prompt_of(request.prompt)
    model = model_of(optional(request, "model"), rules.catalog)
    n = count(optional(request, "n"), model)
    width, height, auto = size_of(optional(request, "size") or "1024x1024", model)
    return budget(ImageRequest(
        kind=GENERATION, prompt=prompt, model=model, n=n, requested_size=optional(request, "size") or "1024x1024",
        width=width, height=height, size_auto=auto, quality=quality_of(optional(request, "quality"), model),
        style=style_of(optional(request, "style"), model),
        response_format=response_format_of(optional(request, "response_format")),
        user=user_of(optional(request, "user")), max_cost_per_call=optional(request, "max_cost_per_call"),
        output=output_of(model, optional(request, "output_format"), optional(request, "output_compression"),
                         optional(request, "background"), optional(request, "moderation")),
        stream=streaming, partial_images=stream_of(streaming, optional(request, "partial_images"), n)))


def validate_edit(request: pb.EditImagesRequest, rules: Rules, streaming: bool) -> ImageRequest:
    prompt = prompt_of(request.prompt)
    model = model_of(optional(request, "model"), rules.catalog)
    images = input_images(list(request.images), rules.inputs)
    mask = mask_image(request.mask, images[0], rules.inputs) if request.HasField("mask") else None
    n = count(optional(request, "n"), model)
    requested = optional(request, "size") or _input_size(images[0], model)
    width, height, auto = size_of(requested, model)
    fidelity = optional(request, "input_fidelity")
    if fidelity is not None and fidelity not in model.input_fidelity:
        supported = f"one of {', '.join(model.input_fidelity)}" if model.input_fidelity else "not supported"
        raise InvalidRequest(f"input_fidelity is {supported} for {model.id}", param="input_fidelity")
    return budget(ImageRequest(
        kind=EDIT, prompt=prompt, model=model, n=n, requested_size=requested, width=width, height=height,
        size_auto=auto, quality=quality_of(optional(request, "quality"), model), style=model.default_style,
        response_format=response_format_of(optional(request, "response_format")),
        user=user_of(optional(request, "user")), max_cost_per_call=optional(request, "max_cost_per_call"),
        output=output_of(model, optional(request, "output_format"), optional(request, "output_compression"),
                         optional(request, "background"), None),
        images=images, mask=mask, input_fidelity=fidelity,
        stream=streaming, partial_images=stream_of(streaming, optional(request, "partial_images"), n)))


def validate_variation(request: pb.CreateImageVariationRequest, rules: Rules, streaming: bool) -> ImageRequest:
    model = model_of(optional(request, "model") or "dall-e-2", rules.catalog)
    if model.variation_prompt is None:
        raise InvalidRequest(f"{model.id} does not make variations; dall-e-2 does", param="model")
    images = input_images([request.image] if request.image else [], rules.inputs)
    n = count(optional(request, "n"), model)
    requested = optional(request, "size") or "1024x1024"
    width, height, _ = size_of(requested, model)
    return budget(ImageRequest(
        kind=VARIATION, prompt=model.variation_prompt, model=model, n=n, requested_size=requested, width=width,
        height=height, quality=model.default_quality, style=model.default_style,
        response_format=response_format_of(optional(request, "response_format")),
        user=user_of(optional(request, "user")), max_cost_per_call=optional(request, "max_cost_per_call"),
        output=OutputSpec(), images=images))


def _input_size(first: GeneratedImage, model: ModelSpec) -> str:
    """An edit without a size: `auto` where the model takes it (OpenAI's default for gpt-image edits),
    else the first image's own size where the model can make it exactly, else the model's default."""
    if model.size_auto:
        return "auto"
    own = format_size(first.width, first.height)
    if own in model.sizes:
        return own
    fits = MIN_CUSTOM_SIDE <= min(first.width, first.height) and max(first.width, first.height) <= MAX_CUSTOM_SIDE
    if model.custom_sizes is not None and fits:
        if deliverable_size(model.custom_sizes, first.width, first.height) == (first.width, first.height):
            return own
    return model.sizes[0]


GENERATE = Kind(GENERATION, validate_generation)
EDIT_IMAGES = Kind(EDIT, validate_edit)
VARY = Kind(VARIATION, validate_variation)
