"""OpenAI Images on the wire: the generation JSON body, the edit multipart form, the usage block and the
error envelope (`{"error": {message, type, param, code}}`) mapped to our errors.

Two wires, chosen by the upstream model: DALL·E (`dall-e-2`/`dall-e-3`: quality, style, response_format
url|b64_json) and GPT-image (everything else: always base64, quality low|medium|high|auto, and the
output_format / output_compression / background / moderation / stream fields). Edits are multipart as
the official SDK sends them: every input image a repeated `image[]` file part, the mask a `mask` part
(OpenAI's convention is ours: fully transparent = edit here), text fields as strings. The edit
endpoint takes no `moderation` and no `style` (the SDK's image_edit_params has neither; OpenAI answers
`unknown_parameter`), so neither is sent on edits.
"""
from __future__ import annotations

from typing import Any

import aiohttp

from server.catalog.pricing import TokenUsage
from server.errors import ContentPolicyViolation, ModelGone, PerfError, ProviderUnavailable, UpstreamError
from server.providers.base import GeneratedImage, GenerationJob, Param
from server.providers.fetch import Allowlist, Fetcher
from server.providers.images import BadImage, ImageLimits
from server.providers.upstream import Deadline, Reply, account_refused, default_retry_delay, rate_limited
from server.storage.mime import EXTENSIONS

NAME = "OpenAI"
MODERATION_CODES = {"content_policy_violation", "moderation_blocked"}
ACCOUNT_CODES = {"insufficient_quota", "billing_hard_limit_reached", "invalid_api_key"}


def is_gpt_image(upstream_model: str) -> bool:
    return not upstream_model.startswith("dall-e")


def streams(job: GenerationJob) -> bool:
    """Whether to ask for a stream: the caller streams (the deployment says its upstream can) on GPT-image."""
    return job.on_partial is not None and is_gpt_image(job.upstream_model)


def size_field(job: GenerationJob) -> str:
    if job.size_auto:
        return "auto"  # the upstream chooses; the image is delivered as made
    width, height = job.upstream_size or (job.width, job.height)
    return f"{width}x{height}"


def _common_fields(job: GenerationJob, *, edit: bool) -> dict[str, Param]:
    fields: dict[str, Param] = {"model": job.upstream_model, "prompt": job.prompt, "n": job.n,
                                "size": size_field(job)}
    if job.quality:
        fields["quality"] = job.quality
    if not is_gpt_image(job.upstream_model):
        # Inline bytes: one round trip, nothing to download. An operator may set url in params.
        fields["response_format"] = "b64_json"
        if job.style and not edit:
            fields["style"] = job.style
        return fields
    gpt: dict[str, Param | None] = {"output_format": job.output_format, "output_compression": job.output_compression,
                                    "background": job.background}
    if edit:
        gpt["input_fidelity"] = job.input_fidelity
    else:
        gpt["moderation"] = job.moderation
    fields.update({key: value for key, value in gpt.items() if value is not None})
    if streams(job):
        fields.update(stream=True, partial_images=job.partial_images)
    return fields


def request_body(job: GenerationJob) -> dict[str, Any]:
    """The JSON body of `POST /images/generations`; the deployment's fixed params have the last word."""
    body: dict[str, Any] = dict(_common_fields(job, edit=False))
    body.update(job.extras)
    return body


def edit_form(job: GenerationJob) -> aiohttp.FormData:
    """The multipart body of `POST /images/edits`: text fields first, then the files, as the SDK sends them."""
    fields = {**_common_fields(job, edit=True), **job.extras}
    form = aiohttp.FormData(default_to_multipart=True)
    for key, value in fields.items():
        form.add_field(key, _text(value))
    for i, image in enumerate(job.images, 1):
        form.add_field("image[]", image.data, filename=f"image-{i}.{EXTENSIONS.get(image.mime, 'png')}",
                       content_type=image.mime)
    if job.mask is not None:
        form.add_field("mask", job.mask.data, filename=f"mask.{EXTENSIONS.get(job.mask.mime, 'png')}",
                       content_type=job.mask.mime)
    return form


def _text(value: Param) -> str:
    # Multipart carries strings: booleans as the SDK spells them, numbers in decimal.
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def token_usage(raw: Any) -> TokenUsage | None:
    """gpt-image's `usage` block; image-output tokens are all output tokens unless a split is given
    (a stream's completed event gives none)."""
    if not isinstance(raw, dict):
        return None

    def count(block: Any, name: str) -> int:
        value = block.get(name) if isinstance(block, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    inputs, outputs = raw.get("input_tokens_details"), raw.get("output_tokens_details")
    output = count(raw, "output_tokens")
    image_out = count(outputs, "image_tokens") if isinstance(outputs, dict) else output
    return TokenUsage(text_input=count(inputs, "text_tokens") if isinstance(inputs, dict) else count(raw, "input_tokens"),
                      image_input=count(inputs, "image_tokens"), image_output=image_out,
                      text_output=max(0, output - image_out))


def reported_background(raw: Any) -> str | None:
    return raw if raw in ("transparent", "opaque") else None


def retry_delay(reply: Reply) -> float | None:
    error = _error_object(reply.error_json())
    # An exhausted quota is a 429 too, but waiting will not refill it; x-should-retry is OpenAI's override.
    if error.get("code") == "insufficient_quota" or reply.headers.get("x-should-retry") == "false":
        return None
    return default_retry_delay(reply)


def error_for(reply: Reply) -> PerfError:
    """A refusal before any work (OpenAI's status + error.code) → our error type."""
    return error_from(reply.status, _error_object(reply.error_json()))


def stream_error(frame: dict[str, Any]) -> PerfError:
    """An `error` event after the stream began: the same mapping, but the work may have been done and
    charged by then, so nothing but a moderation refusal may be repeated blindly."""
    error = _error_object(frame) or frame
    return error_from(None, error, retry_safe=False)


def _error_object(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def error_from(status: int | None, error: dict[str, Any], retry_safe: bool | None = None) -> PerfError:
    """`status` None: the error arrived inside a stream (after a 200)."""
    code = error.get("code")
    if code in MODERATION_CODES:
        return ContentPolicyViolation(f"{NAME}'s safety system rejected this request")
    if status is not None and (code == "model_not_found" or (status == 404 and error.get("param") == "model")):
        # Shut down (or never granted): nothing was generated, so the successor may be asked. Never from
        # inside a stream, where the work may already have been charged.
        return ModelGone(f"{NAME} says the model does not exist: {str(error.get('message', ''))[:200]}")
    if status in (401, 403) or code in ACCOUNT_CODES:
        # Our key or account, never the caller's: not an authentication_error.
        return account_refused(NAME, code or status, "OPENAI_API_KEY", retry_safe=retry_safe)
    if status == 429:
        return rate_limited(NAME)
    if status == 404:
        return ProviderUnavailable(f"{NAME} does not serve the configured model; the operator must "
                                   "repoint it in the catalog")
    where = f"with status {status}" if status is not None else "mid-stream"
    return UpstreamError(f"{NAME} failed {where}" + (f" ({str(code)[:100]})" if code else ""),
                         retry_safe=retry_safe)


async def data_item_image(item: dict[str, Any], upstream: str, limits: ImageLimits, fetcher: Fetcher,
                          downloads: Allowlist, deadline: Deadline) -> GeneratedImage:
    """One item of an OpenAI-style `data` list (OpenAI's and Together's images): inline base64, or a URL
    fetched at once through the guarded fetcher."""
    if isinstance(item.get("b64_json"), str | memoryview):  # memoryview: Reply.json(lift="b64_json")
        try:
            return limits.from_base64(item["b64_json"])
        except BadImage as exc:
            raise UpstreamError(f"{upstream} returned an unusable image") from exc
    if isinstance(item.get("url"), str):
        return await fetcher.image(item["url"], downloads, deadline)
    raise UpstreamError(f"{upstream} returned an image with neither b64_json nor url")
