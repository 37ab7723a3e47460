"""OpenAI Images (`POST {OPENAI_BASE_URL}/images/generations`): one call for all n images.

Two wires, chosen by the upstream model: DALL·E (`dall-e-2`/`dall-e-3`: quality, style,
response_format url|b64_json) and GPT-image (everything else: always base64, quality
low|medium|high, output_format). The catalog's deployment says which model and which words;
this module only speaks the wire. OpenAI never returns a partial set: one flagged output fails the
whole request with 400 `content_policy_violation` (DALL·E) or `moderation_blocked` (GPT-image).
"""
from __future__ import annotations

import functools
from typing import Any

import orjson

from server.catalog.pricing import TokenUsage
from server.errors import ContentPolicyViolation, ModelGone, PerfError, ProviderUnavailable, UpstreamError
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult, UpstreamModel
from server.providers.fanout import first_failure, gather_images
from server.providers.fetch import Allowlist, Fetcher
from server.providers.images import BadImage, ImageLimits, conform
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import (
    Deadline,
    Reply,
    Upstream,
    default_retry_delay,
    log_call,
)

NAME = "OpenAI"
# Where DALL·E `url` results live (Azure blob storage with a SAS signature).
DOWNLOAD_HOSTS = ("oaidalleapiprodscus.blob.core.windows.net",)
_MODERATION_CODES = {"content_policy_violation", "moderation_blocked"}
_ACCOUNT_CODES = {"insufficient_quota", "billing_hard_limit_reached", "invalid_api_key"}


class OpenAIProvider:
    name = "openai"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, base_url: str,
                 limits: ImageLimits, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._url = base_url.rstrip("/") + "/images/generations"
        self._models_url = base_url.rstrip("/") + "/models"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._downloads = Allowlist.of(DOWNLOAD_HOSTS, base_url)
        self._limits = limits
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        async with self._upstream.slot():
            reply = await self._upstream.submit(self._url, deadline=deadline, headers=self._headers,
                                                body=orjson.dumps(request_body(job)), retry_delay=_retry_delay,
                                                images=job.n)
        upstream_id = reply.headers.get("x-request-id")
        log_call(self.name, "generate", reply.status, upstream_id)
        if reply.status != 200:
            raise error_for(reply)
        body = reply.json(NAME)
        data = body.get("data")
        if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
            raise UpstreamError(f"{NAME} returned a response without images")
        items = data[: job.n]
        # The call is already charged for every image: deliver those that arrive, fail as the first failure.
        fetched, _ = await gather_images(len(items), lambda i: self._image(items[i], deadline), NAME)
        conformed = await first_failure([functools.partial(conform, image, job.width, job.height)
                                         for image in fetched])
        revised = data[0].get("revised_prompt")
        return GenerationResult(images=tuple(conformed), model_used=job.upstream_model,
                                revised_prompt=revised if isinstance(revised, str) and revised else job.prompt,
                                upstream_request_id=upstream_id, charged_images=len(data),
                                usage=token_usage(body.get("usage")))

    async def list_models(self) -> list[UpstreamModel]:
        """OpenAI's model list, each with its announced `shutdown_date` (GET /v1/models)."""
        deadline = Deadline.of(None, 30)
        reply = await self._upstream.get(self._models_url, deadline=deadline, headers=self._headers)
        if reply.status != 200:
            raise error_for(reply)
        found = []
        for item in reply.json(NAME).get("data") or ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                shutdown = item.get("shutdown_date")
                found.append(UpstreamModel(item["id"], shutdown if isinstance(shutdown, str) else None))
        return found

    async def _image(self, item: dict[str, Any], deadline: Deadline) -> GeneratedImage:
        if isinstance(item.get("b64_json"), str):
            try:
                return self._limits.from_base64(item["b64_json"])
            except BadImage as exc:
                raise UpstreamError(f"{NAME} returned an unusable image") from exc
        if isinstance(item.get("url"), str):
            return await self._fetcher.image(item["url"], self._downloads, deadline)
        raise UpstreamError(f"{NAME} returned an image with neither b64_json nor url")


def request_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    body: dict[str, Any] = {"model": job.upstream_model, "prompt": job.prompt, "n": job.n,
                            "size": f"{width}x{height}"}
    if job.quality:
        body["quality"] = job.quality
    if job.upstream_model.startswith("dall-e"):
        # Inline bytes: one round trip, nothing to download. An operator may set url in params.
        body["response_format"] = "b64_json"
        if job.style:
            body["style"] = job.style
    body.update(job.extras)
    return body


def token_usage(raw: Any) -> TokenUsage | None:
    """gpt-image's `usage` block; image-output tokens are all output tokens unless a split is given."""
    if not isinstance(raw, dict):
        return None

    def count(block: Any, name: str) -> int:
        value = block.get(name) if isinstance(block, dict) else None
        return value if isinstance(value, int) and value >= 0 else 0

    inputs, outputs = raw.get("input_tokens_details"), raw.get("output_tokens_details")
    output = count(raw, "output_tokens")
    image_out = count(outputs, "image_tokens") if isinstance(outputs, dict) else output
    return TokenUsage(text_input=count(inputs, "text_tokens") if isinstance(inputs, dict) else count(raw, "input_tokens"),
                      image_input=count(inputs, "image_tokens"), image_output=image_out,
                      text_output=max(0, output - image_out))


def _retry_delay(reply: Reply) -> float | None:
    error = reply.error_json().get("error") or {}
    # An exhausted quota is a 429 too, but waiting will not refill it; x-should-retry is OpenAI's override.
    if error.get("code") == "insufficient_quota" or reply.headers.get("x-should-retry") == "false":
        return None
    return default_retry_delay(reply)


def error_for(reply: Reply) -> PerfError:
    """OpenAI's status + error.code → our error type."""
    error = reply.error_json().get("error") or {}
    code = error.get("code")
    if code in _MODERATION_CODES:
        return ContentPolicyViolation(f"{NAME}'s safety system rejected this request")
    if code == "model_not_found" or (reply.status == 404 and error.get("param") == "model"):
        # Shut down (or never granted): nothing was generated, so the successor may be asked.
        return ModelGone(f"{NAME} says the model does not exist: {str(error.get('message', ''))[:200]}")
    if reply.status in (401, 403) or code in _ACCOUNT_CODES:
        # Our key or account, never the caller's: not an authentication_error.
        return ProviderUnavailable(f"{NAME} refused the gateway's account ({code or reply.status}); "
                                   "the operator must check OPENAI_API_KEY")
    if reply.status == 429:
        return ProviderUnavailable(f"{NAME} is rate limiting this gateway; retry later")
    if reply.status == 404:
        return ProviderUnavailable(f"{NAME} does not serve the configured model; the operator must "
                                   "repoint it in the catalog")
    return UpstreamError(f"{NAME} failed with status {reply.status}" + (f" ({code})" if code else ""))


def build(kit: BuildKit) -> OpenAIProvider:
    base_url = kit.values["OPENAI_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return OpenAIProvider(upstream, fetcher, api_key=kit.values["OPENAI_API_KEY"], base_url=base_url,
                          limits=kit.limits, default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="openai", name=NAME, build=build, capabilities=Capabilities(list_models=True),
    settings=(Setting("OPENAI_API_KEY", secret=True, doc="OpenAI API key"),
              # As the openai SDK spells it, including /v1.
              Setting("OPENAI_BASE_URL", "https://api.openai.com/v1")),
    # OpenAI limits rate, not concurrency.
    default_concurrency=1024)
