"""Stability AI SD3/SD3.5 (`POST {STABILITY_BASE_URL}/v2beta/stable-image/generate/sd3`): one image per call.

Multipart is mandatory even without a file; `Accept: image/*` returns the raw image with a
`finish-reason` header, so no base64 passes through us. Size is an aspect ratio (~1 MP out).
Input moderation is 403 `content_moderation` (not charged); output moderation is a 200 whose
finish reason is `CONTENT_FILTERED` (charged upstream, withheld and never billed by us).

Masked edits go to `POST /v2beta/stable-image/edit/inpaint` (the catalog's `inpaint` route): the same
multipart call with the `image` and its `mask` as files (white = inpaint, masks.py) and no model or
aspect ratio; the output has the image's size, conformed to the promised one. 5 credits a call, whatever
the model (https://platform.stability.ai/docs/api-reference#tag/Edit/paths/~1v2beta~1stable-image~1edit~1inpaint/post).
Stability takes no unmasked image edit here, so the catalog gives its deployments no `edit` route.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import aiohttp

from server.errors import (
    ContentPolicyViolation,
    InvalidRequest,
    PerfError,
    ProviderUnavailable,
    UpstreamError,
)
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import gather_images
from server.providers.images import BadImage, ImageLimits, conform
from server.providers.masks import WHITE_EDITS, converted_mask
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call
from server.storage.mime import EXTENSIONS

NAME = "Stability AI"
PATH = "/v2beta/stable-image/generate/sd3"
INPAINT_PATH = "/v2beta/stable-image/edit/inpaint"
# What the edit endpoints take as `image` (Stability's API reference): every side at least 64 px,
# 4,096 to 9,437,184 pixels, aspect ratio within 1:2.5 .. 2.5:1. Checked here so a caller's image
# outside them is a 400 naming `image`, not a 502 after Stability's own 400.
MIN_SIDE, MIN_PIXELS, MAX_PIXELS, MAX_RATIO = 64, 4096, 9_437_184, 2.5
# Pixel size SD3 delivers per aspect ratio (providers.md 2.2).
ASPECTS = {
    "1:1": (1024, 1024), "5:4": (1088, 896), "3:2": (1216, 832), "16:9": (1344, 768), "21:9": (1536, 640),
    "4:5": (896, 1088), "2:3": (832, 1216), "9:16": (768, 1344), "9:21": (640, 1536),
}


def aspect_ratio(width: int, height: int) -> str:
    wanted = math.log(width / height)
    return min(ASPECTS, key=lambda a: abs(math.log(ASPECTS[a][0] / ASPECTS[a][1]) - wanted))


class StabilityProvider:
    name = "stability"

    def __init__(self, upstream: Upstream, *, api_key: str, base_url: str, limits: ImageLimits,
                 default_deadline_s: float) -> None:
        self._upstream = upstream
        self._url = base_url.rstrip("/") + PATH
        self._inpaint_url = base_url.rstrip("/") + INPAINT_PATH
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "image/*"}
        self._limits = limits
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        if job.images:
            url, body = self._inpaint_url, await inpaint_form(job)
        else:
            url, body = self._url, lambda: form(job)
        images, filtered = await gather_images(job.n, lambda i: self._one(url, body, deadline), NAME)
        conformed = [await conform(image, job.width, job.height) for image in images]
        # Stability bills an output its moderation filtered, as well as those delivered.
        return GenerationResult(images=tuple(conformed), revised_prompt=job.prompt,
                                model_used=job.upstream_model, filtered=filtered,
                                charged_images=len(conformed) + filtered)

    async def _one(self, url: str, body: Callable[[], aiohttp.FormData],
                   deadline: Deadline) -> GeneratedImage | None:
        async with self._upstream.slot():
            reply = await self._upstream.submit(url, deadline=deadline, headers=self._headers, body=body, images=1)
        log_call(self.name, "generate", reply.status, reply.headers.get("x-request-id"))
        if reply.status != 200:
            raise error_for(reply)
        if reply.headers.get("finish-reason") == "CONTENT_FILTERED":
            return None
        try:
            return self._limits.inspect(reply.body)
        except BadImage as exc:
            raise UpstreamError(f"{NAME} returned an unusable image") from exc


def form(job: GenerationJob) -> aiohttp.FormData:
    width, height = job.upstream_size or (job.width, job.height)
    fields: dict[str, object] = {"prompt": job.prompt, "model": job.upstream_model,
                                 "aspect_ratio": aspect_ratio(width, height), "output_format": "png"}
    if job.seed is not None:
        fields["seed"] = job.seed
    fields.update(job.extras)
    return _fields(fields)


def _fields(fields: dict[str, object]) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for key, value in fields.items():
        data.add_field(key, str(value).lower() if isinstance(value, bool) else str(value))
    return data


async def inpaint_form(job: GenerationJob) -> Callable[[], aiohttp.FormData]:
    """A factory of the inpaint form (a FormData is sent once; each call of n needs its own)."""
    if job.mask is None:
        raise ProviderUnavailable(f"the catalog routes unmasked edits of {job.model} to {NAME}, which only "
                                  "inpaints; the operator must fix its edit route")
    image = job.images[0]
    check_edit_image(image)
    mask = await converted_mask(job.mask, WHITE_EDITS, (image.width, image.height))
    fields: dict[str, object] = {"prompt": job.prompt, "output_format": "png"}
    if job.seed is not None:
        fields["seed"] = job.seed
    fields.update(job.extras)  # e.g. grow_mask, negative_prompt, style_preset

    def build() -> aiohttp.FormData:
        data = _fields(fields)
        data.add_field("image", image.data, filename=f"image.{EXTENSIONS[image.mime]}", content_type=image.mime)
        data.add_field("mask", mask.data, filename="mask.png", content_type="image/png")
        return data
    return build


def check_edit_image(image: GeneratedImage) -> None:
    width, height = image.width, image.height
    if min(width, height) < MIN_SIDE or not MIN_PIXELS <= width * height <= MAX_PIXELS \
            or max(width, height) > MAX_RATIO * min(width, height):
        raise InvalidRequest(f"{NAME} edits images with sides of at least {MIN_SIDE} px, {MIN_PIXELS:,} to "
                             f"{MAX_PIXELS:,} pixels and an aspect ratio within 1:2.5 to 2.5:1; this one is "
                             f"{width}x{height}", param="image")


def error_for(reply: Reply) -> PerfError:
    """Stability's status + `name` → our error type."""
    body = reply.error_json()
    name = body.get("name")
    if reply.status == 400 and name == "bad_request" and _names_the_image(body.get("errors")):
        # Its errors name the field first ("image: ..."); the image is the caller's, checked by header only.
        return InvalidRequest(f"{NAME} could not use the input image", param="image")
    if reply.status == 403 and name == "content_moderation":
        return ContentPolicyViolation(f"{NAME}'s content moderation rejected this prompt")
    if reply.status in (401, 402, 403):
        return account_refused(NAME, name or reply.status, "STABILITY_API_KEY")
    if reply.status in (404, 429):
        return ProviderUnavailable(f"{NAME} is not accepting requests for this model now")
    return UpstreamError(f"{NAME} failed with status {reply.status}" + (f" ({name})" if name else ""))


def _names_the_image(errors: object) -> bool:
    return isinstance(errors, list) and any(isinstance(e, str) and e.startswith("image:") for e in errors)


def build(kit: BuildKit) -> StabilityProvider:
    base_url = kit.values["STABILITY_BASE_URL"]
    upstream, _ = kit.connect(base_url)
    return StabilityProvider(upstream, api_key=kit.values["STABILITY_API_KEY"], base_url=base_url,
                             limits=kit.limits, default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="stability", name=NAME, build=build, capabilities=Capabilities(edit=True, mask=True),
    settings=(Setting("STABILITY_API_KEY", secret=True, doc="Stability AI API key"),
              Setting("STABILITY_BASE_URL", "https://api.stability.ai")),
    default_concurrency=16)
