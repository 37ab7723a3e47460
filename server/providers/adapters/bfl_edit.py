"""The submit body of a BFL edit: which fields carry the input images and the mask on each endpoint.

    flux-kontext-pro | -max  FLUX.1 Kontext: `input_image`, `input_image_2..4` (experimental multi-
                             reference); no width/height, an `aspect_ratio` "W:H" within 21:9..9:21, about
                             one megapixel out (BFL's API reference for /v1/flux-kontext-pro, https://docs.bfl.ai)
    flux-pro-1.0-fill        FLUX.1 Fill [pro]: `image` and `mask`, white = inpaint (masks.py); the output
                             has the image's own size (https://docs.bfl.ai/flux_tools/flux_1_fill)
    flux-2-*                 FLUX.2: the generation body plus `input_image`, `input_image_2..8` ([klein]: 4)
                             (https://docs.bfl.ai/guides/prompting_editing_overview)

Images travel inline as raw base64 (BFL also takes URLs, but ours are not for BFL to fetch). Whatever
the endpoint makes, bfl.py conforms it to the promised size, as for generations. The catalog's edit
routes (models.toml) say which endpoint edits which public model; one that names an endpoint taking no
images, or a mask where it takes none, is refused here rather than sent and charged as a text prompt.
"""
from __future__ import annotations

import math
from typing import Any

from server.errors import InvalidRequest, ProviderUnavailable
from server.providers.base import GenerationJob
from server.providers.images import encode_b64
from server.providers.masks import WHITE_EDITS, converted_mask

KONTEXT_IMAGES = 4
FLUX2_IMAGES = 8
REFERENCE_FIELDS = ("input_image", *(f"input_image_{i}" for i in range(2, FLUX2_IMAGES + 1)))
IMAGE_FIELDS = frozenset({*REFERENCE_FIELDS, "image", "mask"})
# Kontext's aspect_ratio bounds (21:9 .. 9:21).
WIDEST, TALLEST = 21 / 9, 9 / 21


def is_fill(upstream_model: str) -> bool:
    return upstream_model.endswith("-fill")


async def edit_body(job: GenerationJob, generation: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for an edit `job` on its endpoint; `generation` is what a text-to-image job would send."""
    model = job.upstream_model
    if job.mask is not None and not is_fill(model):
        # Only Fill takes a mask: sending one elsewhere would repaint the whole picture.
        raise InvalidRequest(f"{job.model} takes no mask", param="mask")
    if is_fill(model):
        return await _fill(job)
    if model.startswith("flux-kontext"):
        body = {key: value for key, value in generation.items() if key not in ("width", "height")}
        width, height = job.upstream_size or (job.width, job.height)
        return {**body, **_references(job, KONTEXT_IMAGES), "aspect_ratio": aspect_ratio(width, height)}
    if model.startswith("flux-2-"):
        return {**generation, **_references(job, FLUX2_IMAGES)}
    raise ProviderUnavailable(f"the catalog routes edits of {job.model} to {model}, which takes no input images; "
                              "the operator must fix its edit route")


async def _fill(job: GenerationJob) -> dict[str, Any]:
    first = job.images[0]
    if job.mask is None:
        raise InvalidRequest(f"{job.model} edits this way need a mask", param="mask")
    mask = await converted_mask(job.mask, WHITE_EDITS, (first.width, first.height))
    body: dict[str, Any] = {"prompt": job.prompt, "image": encode_b64(first.data), "mask": encode_b64(mask.data),
                            "output_format": "png"}
    if job.seed is not None:
        body["seed"] = job.seed
    body.update(job.extras)
    return body


def _references(job: GenerationJob, limit: int) -> dict[str, str]:
    if len(job.images) > limit:  # the router holds callers to the catalog's max_images already
        raise InvalidRequest(f"{job.model} takes at most {limit} input images", param="image")
    return {name: encode_b64(image.data) for name, image in zip(REFERENCE_FIELDS[:limit], job.images)}


def aspect_ratio(width: int, height: int) -> str:
    """`width:height` in lowest terms, held within Kontext's 21:9 .. 9:21."""
    if width / height > WIDEST:
        return "21:9"
    if width / height < TALLEST:
        return "9:21"
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"
