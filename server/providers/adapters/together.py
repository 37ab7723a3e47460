"""Together AI images (`POST {TOGETHER_BASE_URL}/v1/images/generations`), OpenAI-style and synchronous.

    POST /v1/images/generations   Authorization: Bearer <TOGETHER_API_KEY>
         {"model", "prompt", "width", "height", "n", "seed"?, "response_format": "base64",
          "output_format": "png", ...catalog params}
      → {"id", "model", "object": "list", "data": [{"index", "b64_json", "type": "b64_json"} | {"index", "url"}]}

One call makes all n images. Together's reference spells the request's `response_format` values
`base64` | `url` and answers base64 in `b64_json` (as OpenAI does); we ask for base64 (no download)
and take a `url` item too (fetched from Together's hosts). The call is charged once it is
answered, so it is never repeated; a 503 accepted nothing. A 200 whose `data` is empty is handed
on as no images: the pipeline counts it as the upstream failing (and may not ask elsewhere, since
it may have been billed). Errors come in OpenAI's envelope `{"error": {"message", "type", "code"}}`.
Sources: https://docs.together.ai/reference/post-images-generations,
https://docs.together.ai/docs/images-overview (FLUX1.1 [pro] takes width and height).
"""
from __future__ import annotations

import functools
from typing import Any

import orjson

from server.errors import ContentPolicyViolation, ModelGone, PerfError, UpstreamError
from server.providers.adapters.openai_wire import data_item_image
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import first_failure, gather_images
from server.providers.fetch import Allowlist, Fetcher
from server.providers.images import ImageLimits, conform
from server.providers.plugin import BuildKit, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call, rate_limited, refused_submit

NAME = "Together AI"
DOWNLOAD_HOSTS = ("api.together.ai", "*.together.ai", "*.together.xyz")
_MODERATION_WORDS = ("nsfw", "safety", "content policy", "moderation")


class TogetherProvider:
    name = "together"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, base_url: str,
                 limits: ImageLimits, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._url = base_url.rstrip("/") + "/v1/images/generations"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._downloads = Allowlist.of(DOWNLOAD_HOSTS, base_url)
        self._limits = limits
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        async with self._upstream.slot():
            reply = await self._upstream.submit(self._url, deadline=deadline, headers=self._headers,
                                                body=orjson.dumps(request_body(job)), images=job.n)
        body = reply.json(NAME, lift="b64_json") if reply.status == 200 else {}
        upstream_id = str(body["id"]) if body.get("id") else reply.headers.get("x-request-id")
        log_call(self.name, "generate", reply.status, upstream_id)
        if reply.status != 200:
            raise error_for(reply, job.upstream_model)
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise UpstreamError(f"{NAME} returned a response without a data list")
        items = data[: job.n]
        fetched: list[GeneratedImage] = []
        if items:  # none at all: the pipeline counts a 200 without an image as the upstream failing
            fetched, _ = await gather_images(len(items), lambda i: self._image(items[i], deadline), NAME)
        conformed = await first_failure([functools.partial(conform, image, job.width, job.height)
                                         for image in fetched])
        return GenerationResult(images=tuple(conformed), revised_prompt=job.prompt, model_used=job.upstream_model,
                                upstream_request_id=upstream_id, charged_images=len(data))

    async def _image(self, item: dict[str, Any], deadline: Deadline) -> GeneratedImage:
        return await data_item_image(item, NAME, self._limits, self._fetcher, self._downloads, deadline)


def request_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    body: dict[str, Any] = {"model": job.upstream_model, "prompt": job.prompt, "width": width, "height": height,
                            "n": job.n, "response_format": "base64", "output_format": "png"}
    if job.seed is not None:
        body["seed"] = job.seed
    body.update(job.extras)
    return body


def error_for(reply: Reply, model: str) -> PerfError:
    """Together's status + OpenAI-style error → our error type."""
    error = reply.error_json().get("error")
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or "")[:200]
    if reply.status in (401, 402, 403):
        return account_refused(NAME, reply.status, "TOGETHER_API_KEY")
    if reply.status == 404 or error.get("code") == "model_not_found":
        return ModelGone(f"{NAME} does not serve {model} ({message or reply.status})")
    if reply.status in (400, 422) and any(word in message.lower() for word in _MODERATION_WORDS):
        return ContentPolicyViolation(f"{NAME}'s safety checker rejected this request")
    if reply.status == 429:
        return rate_limited(NAME)
    return refused_submit(reply, NAME) or UpstreamError(
        f"{NAME} failed with status {reply.status}" + (f": {message}" if message else ""))


def build(kit: BuildKit) -> TogetherProvider:
    base_url = kit.values["TOGETHER_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return TogetherProvider(upstream, fetcher, api_key=kit.values["TOGETHER_API_KEY"], base_url=base_url,
                            limits=kit.limits, default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="together", name=NAME, build=build,
    settings=(Setting("TOGETHER_API_KEY", secret=True, doc="Together AI API key"),
              Setting("TOGETHER_BASE_URL", "https://api.together.xyz")),
    default_concurrency=32)
