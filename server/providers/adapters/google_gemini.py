"""Google's Gemini image models on `:generateContent`: the request body, and reading one answer.

One image per call (the image models take no candidate count), so n images are n calls side by side.
Size is `imageConfig {aspectRatio, imageSize}`: the nearest of the ten ratios, at the 1K/2K/4K tier
whose area is nearest the delivered size. Every refusal arrives inside a 200 and means "no image
from this call": `promptFeedback.blockReason` (the prompt), a candidate `finishReason` of
IMAGE_SAFETY, PROHIBITED_CONTENT, SAFETY and their kin, or simply a candidate without an image part;
text parts are ignored. Tokens come from `usageMetadata`, per modality.

Edits are the same call with the input images as `inlineData {mimeType, data}` parts after the text
part, in the caller's order (up to 14 for the Gemini 3 image models; Google bills them as image-input
tokens, which `usageMetadata` reports). Gemini takes no mask: the catalog gives these deployments
mask-less edit routes only, and a mask that reaches here anyway is refused rather than ignored
(https://ai.google.dev/gemini-api/docs/image-generation, "Image editing" and "multiple reference images").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from server.catalog.pricing import TokenUsage
from server.errors import InvalidRequest
from server.providers.base import GenerationJob
from server.providers.images import encode_b64
from server.providers.inline_base64 import Base64

# imageConfig.aspectRatio values (python-genai's ImageConfig docstring, plus 4:5 and 5:4 the Pro model takes).
RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# Megapixels at each imageSize tier (1K is ~1 MP; each tier doubles the sides).
TIERS = (("1K", 1.05), ("2K", 4.2), ("4K", 16.8))


@dataclass(frozen=True)
class Answer:
    """One call's outcome: its image (base64) or none (refused), and the tokens it used."""

    image_b64: Base64 | None  # a memoryview when lifted (Reply.json(lift="data"))
    mime: str
    usage: TokenUsage
    refusal: str | None = None  # why no image, for logs


def request_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    wanted = math.log(width / height)
    ratio = min(RATIOS, key=lambda r: abs(math.log(int(r.split(":")[0]) / int(r.split(":")[1])) - wanted))
    megapixels = width * height / 1_000_000
    tier = min(TIERS, key=lambda t: abs(math.log(t[1] / megapixels)))[0]
    image_config: dict[str, Any] = {"aspectRatio": ratio, "imageSize": tier}
    image_config.update(job.extras)
    if job.mask is not None:
        raise InvalidRequest(f"{job.model} takes no mask", param="mask")
    parts: list[dict[str, Any]] = [{"text": job.prompt}]
    parts += [{"inlineData": {"mimeType": image.mime, "data": encode_b64(image.data)}} for image in job.images]
    return {"contents": [{"role": "user", "parts": parts}],
            "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": image_config}}


def read_answer(body: dict[str, Any]) -> Answer:
    usage = _usage(body.get("usageMetadata"))
    feedback = body.get("promptFeedback")
    candidates = body.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        return Answer(None, "", usage, f"prompt blocked ({reason or 'no candidates'})")
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    for part in parts if isinstance(parts, list) else ():
        inline = part.get("inlineData") if isinstance(part, dict) else None
        if isinstance(inline, dict) and isinstance(inline.get("data"), str | memoryview) and \
                str(inline.get("mimeType", "")).startswith("image/"):
            return Answer(inline["data"], str(inline["mimeType"]), usage)
    return Answer(None, "", usage, f"no image part (finishReason {candidate.get('finishReason', 'none')})")


def _usage(raw: Any) -> TokenUsage:
    if not isinstance(raw, dict):
        return TokenUsage()

    def by_modality(name: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for detail in raw.get(name) or ():
            if isinstance(detail, dict) and isinstance(detail.get("tokenCount"), int):
                found[str(detail.get("modality"))] = found.get(str(detail.get("modality")), 0) + detail["tokenCount"]
        return found

    prompt, output = by_modality("promptTokensDetails"), by_modality("candidatesTokensDetails")
    thoughts = raw["thoughtsTokenCount"] if isinstance(raw.get("thoughtsTokenCount"), int) else 0
    image_out = output.get("IMAGE", 0)
    text_out = sum(v for k, v in output.items() if k != "IMAGE") + thoughts
    if not output and isinstance(raw.get("candidatesTokenCount"), int):
        image_out = raw["candidatesTokenCount"]  # no modality split given: count it all as image output
    image_in = prompt.get("IMAGE", 0)
    text_in = sum(v for k, v in prompt.items() if k != "IMAGE")
    if not prompt and isinstance(raw.get("promptTokenCount"), int):
        text_in = raw["promptTokenCount"]
    return TokenUsage(text_input=text_in, image_input=image_in, image_output=image_out, text_output=text_out)
