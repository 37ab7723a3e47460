"""Ideogram (`Api-Key` auth): legacy `POST /generate` (JSON, V_1/V_2/V_2A models), 3.0
`POST /v1/ideogram-v3/generate` (multipart, upstream model `V_3`, n per call) and 4.0
`POST /v1/ideogram-v4/generate` (multipart, upstream model `V_4`, one image per call), all synchronous.

Size is an aspect ratio, spelled `ASPECT_16_9` on the legacy endpoint and `16x9` on 3.0. Results
are short-lived URLs, fetched at once through the guarded fetcher. Input moderation is 422 (not
charged); output moderation is an item with `is_image_safe: false` and no URL (charged upstream,
withheld and never billed by us).

Masked edits (the catalog's `inpaint` route, upstream model `V_3`) go to Ideogram 3.0's
`POST /v1/ideogram-v3/inpaint`, multipart: the `image` and a `mask` of its size where black = edit,
white = keep (masks.py), with the generate fields (`num_images`, `rendering_speed`, `seed`); every output
has the image's size and is conformed to the promised one. Ideogram prices an edit like a generation at
the same speed (https://developer.ideogram.ai/v1/api-reference/edit-images/inpaint-v3; the older
`/v1/ideogram-v3/edit` is listed as "Edit with Ideogram 3.0 (legacy)" beside it). Ideogram 4.0 has no
masked edit of its own.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from server.errors import (
    ContentPolicyViolation,
    InvalidRequest,
    ModelGone,
    PerfError,
    ProviderUnavailable,
    UpstreamError,
)
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import gather_images
from server.providers.fetch import Allowlist, Fetcher
from server.providers.images import conform
from server.providers.masks import BLACK_EDITS, converted_mask
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call
from server.storage.mime import EXTENSIONS

NAME = "Ideogram"
DOWNLOAD_HOSTS = ("ideogram.ai", "*.ideogram.ai")  # https://ideogram.ai/api/images/ephemeral/...
LEGACY_RATIOS = ((1, 1), (16, 9), (9, 16), (4, 3), (3, 4), (3, 2), (2, 3), (16, 10), (10, 16), (3, 1), (1, 3))
V3_RATIOS = (*LEGACY_RATIOS, (1, 2), (2, 1), (4, 5), (5, 4))
INPAINT_PATH = "/v1/ideogram-v3/inpaint"
MAX_FILE_BYTES = 25 * 1024 * 1024  # per file, inpaint's `image` and `mask`


def nearest_ratio(width: int, height: int, ratios: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    wanted = math.log(width / height)
    return min(ratios, key=lambda r: abs(math.log(r[0] / r[1]) - wanted))


class IdeogramProvider:
    name = "ideogram"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, base_url: str,
                 default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._base = base_url.rstrip("/")
        self._key = {"Api-Key": api_key}
        self._downloads = Allowlist.of(DOWNLOAD_HOSTS, base_url)
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        if job.upstream_model.upper().startswith("V_4") and not job.images:
            # Ideogram 4.0 documents no image count: one call per image, side by side.
            images, filtered = await gather_images(job.n, lambda i: self._one_v4(job, deadline), NAME)
            charged = len(images) + filtered
            revised = None
        else:
            if job.images:
                items = await self._call(job, deadline, INPAINT_PATH, await inpaint_form(job))
            elif job.upstream_model.upper().startswith("V_3"):
                items = await self._call(job, deadline, "/v1/ideogram-v3/generate", lambda: v3_form(job))
            else:
                items = await self._call(job, deadline, "/generate", orjson.dumps(legacy_body(job)))
            images, filtered = await gather_images(len(items), lambda i: self._download(items[i], deadline), NAME)
            charged = len(items)
            revised = items[0].get("prompt")
        conformed = [await conform(image, job.width, job.height) for image in images]
        return GenerationResult(images=tuple(conformed), model_used=job.upstream_model, filtered=filtered,
                                revised_prompt=revised if isinstance(revised, str) and revised else job.prompt,
                                charged_images=charged)

    async def _one_v4(self, job: GenerationJob, deadline: Deadline) -> GeneratedImage | None:
        items = await self._call(job, deadline, "/v1/ideogram-v4/generate", lambda: v4_form(job))
        return await self._download(items[0], deadline)

    async def _call(self, job: GenerationJob, deadline: Deadline, path: str,
                    body: bytes | Callable[[], aiohttp.FormData]) -> list[dict[str, Any]]:
        headers = self._key if callable(body) else {**self._key, "Content-Type": "application/json"}
        async with self._upstream.slot():
            reply = await self._upstream.submit(f"{self._base}{path}", deadline=deadline, headers=headers, body=body)
        log_call(self.name, "generate", reply.status, reply.headers.get("request-id"))
        if reply.status != 200:
            raise error_for(reply, job.upstream_model)
        items = reply.json(NAME).get("data")
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise UpstreamError(f"{NAME} returned a response without images")
        return items

    async def _download(self, item: dict[str, Any], deadline: Deadline) -> GeneratedImage | None:
        if item.get("is_image_safe") is False or not isinstance(item.get("url"), str) or not item["url"]:
            return None  # withheld by Ideogram's safety check (and billed by it)
        return await self._fetcher.image(item["url"], self._downloads, deadline)


def legacy_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    w, h = nearest_ratio(width, height, LEGACY_RATIOS)
    request: dict[str, Any] = {"prompt": job.prompt, "model": job.upstream_model,
                               "aspect_ratio": f"ASPECT_{w}_{h}", "num_images": job.n}
    if job.seed is not None:
        request["seed"] = job.seed
    request.update(job.extras)
    return {"image_request": request}


def v3_form(job: GenerationJob) -> aiohttp.FormData:
    width, height = job.upstream_size or (job.width, job.height)
    w, h = nearest_ratio(width, height, V3_RATIOS)
    fields: dict[str, object] = {"prompt": job.prompt, "aspect_ratio": f"{w}x{h}", "num_images": job.n}
    if job.seed is not None:
        fields["seed"] = job.seed
    fields.update(job.extras)  # e.g. rendering_speed, magic_prompt, style_type
    data = aiohttp.FormData(default_to_multipart=True)
    for key, value in fields.items():
        data.add_field(key, str(value))
    return data


async def inpaint_form(job: GenerationJob) -> Callable[[], aiohttp.FormData]:
    """A factory of the Ideogram 3.0 inpaint form for `job` (its mask converted once, off the loop)."""
    if job.mask is None or not job.upstream_model.upper().startswith("V_3"):
        raise ProviderUnavailable(f"the catalog routes edits of {job.model} to {NAME} {job.upstream_model}, "
                                  "but the gateway edits at Ideogram only by Ideogram 3.0 inpainting, with a "
                                  "mask; the operator must fix its edit route")
    image = job.images[0]
    if len(image.data) > MAX_FILE_BYTES:
        raise InvalidRequest(f"{NAME} edits images of at most {MAX_FILE_BYTES // (1024 * 1024)} MB", param="image")
    mask = await converted_mask(job.mask, BLACK_EDITS, (image.width, image.height))
    fields: dict[str, object] = {"prompt": job.prompt, "num_images": job.n}
    if job.quality:  # the deployment's quality map speaks Ideogram's rendering speeds
        fields["rendering_speed"] = job.quality
    if job.seed is not None:
        fields["seed"] = job.seed
    fields.update(job.extras)

    def build() -> aiohttp.FormData:
        data = aiohttp.FormData(default_to_multipart=True)
        for key, value in fields.items():
            data.add_field(key, str(value))
        data.add_field("image", image.data, filename=f"image.{EXTENSIONS[image.mime]}", content_type=image.mime)
        data.add_field("mask", mask.data, filename="mask.png", content_type="image/png")
        return data
    return build


def v4_form(job: GenerationJob) -> aiohttp.FormData:
    """Ideogram 4.0: `text_prompt` (Magic Prompt on) and its speed as the deployment says it."""
    width, height = job.upstream_size or (job.width, job.height)
    w, h = nearest_ratio(width, height, V3_RATIOS)
    fields: dict[str, object] = {"text_prompt": job.prompt, "aspect_ratio": f"{w}x{h}"}
    if job.quality:
        fields["rendering_speed"] = job.quality
    if job.seed is not None:
        fields["seed"] = job.seed
    fields.update(job.extras)
    data = aiohttp.FormData(default_to_multipart=True)
    for key, value in fields.items():
        data.add_field(key, str(value))
    return data


def error_for(reply: Reply, model: str = "") -> PerfError:
    """Ideogram's status → our error type (its error bodies are a bare `{"error": text}`)."""
    if reply.status == 404:  # the endpoint of this model version is gone; nothing ran, nothing was billed
        return ModelGone(f"{NAME} no longer serves {model or 'this model'} (its endpoint answers 404)")
    if reply.status == 422:  # the documented safety-check refusal (GenerateImageSafetyError)
        return ContentPolicyViolation(f"{NAME}'s safety check rejected this prompt")
    if reply.status in (401, 402, 403):
        return account_refused(NAME, reply.status, "IDEOGRAM_API_KEY")
    if reply.status == 429:
        return ProviderUnavailable(f"{NAME} is not accepting requests for this model now")
    return UpstreamError(f"{NAME} failed with status {reply.status}")


def build(kit: BuildKit) -> IdeogramProvider:
    base_url = kit.values["IDEOGRAM_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return IdeogramProvider(upstream, fetcher, api_key=kit.values["IDEOGRAM_API_KEY"], base_url=base_url,
                            default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="ideogram", name=NAME, build=build, capabilities=Capabilities(edit=True, mask=True),
    settings=(Setting("IDEOGRAM_API_KEY", secret=True, doc="Ideogram API key"),
              Setting("IDEOGRAM_BASE_URL", "https://api.ideogram.ai")),
    # Ideogram allows 10 in-flight requests by default (providers.md 4.1).
    default_concurrency=10)
