"""Google image generation on the Gemini API (`x-goog-api-key`) or Vertex AI (OAuth bearer token):
the Gemini image models on `:generateContent` (google_gemini.py), and the legacy Imagen `:predict`.

Imagen: synchronous, n images per call (`sampleCount`), size as `aspectRatio`, images as base64 in
`predictions`. Output filtering happens inside a 200: filtered images are simply missing (we ask
for `includeRaiReason`, which adds a reason entry), and everything filtered may be `{}`; Google
does not charge filtered images and neither do we. A refused prompt is a 400 INVALID_ARGUMENT
whose only distinguishing mark is its "Support codes" (or older "Error Code") number.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from server.catalog.pricing import TokenUsage
from server.errors import ContentPolicyViolation, ModelGone, PerfError, ProviderUnavailable, UpstreamError
from server.providers.adapters import google_gemini as gemini
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult, UpstreamModel
from server.providers.fanout import gather_images
from server.providers.images import BadImage, ImageLimits, conform
from server.providers.inline_base64 import Base64
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import (
    Deadline,
    Reply,
    Upstream,
    default_retry_delay,
    log_call,
)

log = logging.getLogger("perf.upstream")
NAME = "Google"
RATIOS = {"1:1": 1.0, "3:4": 3 / 4, "4:3": 4 / 3, "9:16": 9 / 16, "16:9": 16 / 9}
# Google's RAI refusals carry no structured code; this number is the one stable mark they have.
_RAI_REFUSAL = re.compile(r"(Support codes|Error Code): \d+")
_RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


class Surface(Protocol):
    env: str

    def url(self, model: str, method: str = "predict") -> str: ...

    def headers(self) -> dict[str, str]: ...

    def models_url(self) -> str | None: ...


class GeminiSurface:
    env = "GEMINI_API_KEY"

    def __init__(self, api_key: str, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"x-goog-api-key": api_key, "Content-Type": "application/json"}

    def url(self, model: str, method: str = "predict") -> str:
        return f"{self._base}/v1beta/models/{model}:{method}"

    def headers(self) -> dict[str, str]:
        return self._headers

    def models_url(self) -> str | None:
        return f"{self._base}/v1beta/models"


class VertexSurface:
    env = "VERTEX_ACCESS_TOKEN"

    def __init__(self, project: str, location: str, base_url: str | None, token: str | None,
                 token_file: str | None) -> None:
        base = (base_url or f"https://{location}-aiplatform.googleapis.com").rstrip("/")
        self._prefix = f"{base}/v1/projects/{project}/locations/{location}/publishers/google/models/"
        self._token, self._token_file = token, token_file
        self._cached: tuple[float, str] | None = None

    def url(self, model: str, method: str = "predict") -> str:
        return f"{self._prefix}{model}:{method}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._current_token()}", "Content-Type": "application/json"}

    def models_url(self) -> str | None:
        return None  # Vertex has no listing of publisher models with lifecycle worth reading

    def _current_token(self) -> str:
        if self._token_file is None:
            return self._token or ""
        # Access tokens live an hour and are refreshed by whoever writes the file: re-read on change.
        mtime = os.stat(self._token_file).st_mtime
        if self._cached is None or self._cached[0] != mtime:
            with open(self._token_file, encoding="utf-8") as fh:
                self._cached = (mtime, fh.read().strip())
        return self._cached[1]


class GoogleProvider:
    name = "google"

    def __init__(self, upstream: Upstream, surface: Surface, *, limits: ImageLimits, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._surface = surface
        self._limits = limits
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        if job.upstream_model.startswith("imagen"):
            if job.images:  # :predict here is text-to-image only; images must not be dropped silently
                raise ProviderUnavailable(f"the catalog routes edits of {job.model} to {job.upstream_model}, which "
                                          "the gateway calls for text-to-image only; the operator must fix its "
                                          "edit route")
            return await self._predict(job, deadline)
        return await self._generate_content(job, deadline)

    async def _predict(self, job: GenerationJob, deadline: Deadline) -> GenerationResult:
        """Imagen `:predict`: n images in one call (every Imagen model was shut down on 2026-08-17)."""
        reply = await self._call(job, deadline, "predict", orjson.dumps(imagen_body(job)), job.n)
        predictions = reply.json(NAME).get("predictions") or []
        if not isinstance(predictions, list):
            raise UpstreamError(f"{NAME} returned a malformed response")
        encoded = [p for p in predictions if isinstance(p, dict) and isinstance(p.get("bytesBase64Encoded"), str)]
        if not encoded:
            raise ContentPolicyViolation(f"{NAME}'s safety filters withheld every image generated for this prompt")
        images = [self._image(p["bytesBase64Encoded"]) for p in encoded[: job.n]]
        conformed = [await conform(image, job.width, job.height) for image in images]
        revised = encoded[0].get("prompt")  # present when the upstream rewrote the prompt
        return GenerationResult(images=tuple(conformed), model_used=job.upstream_model,
                                revised_prompt=revised if isinstance(revised, str) and revised else job.prompt,
                                filtered=max(0, job.n - len(images)))

    async def _generate_content(self, job: GenerationJob, deadline: Deadline) -> GenerationResult:
        """Gemini image models: one `:generateContent` call per image (google_gemini.py)."""
        answers: list[gemini.Answer] = []
        body = orjson.dumps(gemini.request_body(job))  # with an edit's images inline: encoded once for all n

        async def one(index: int) -> GeneratedImage | None:
            reply = await self._call(job, deadline, "generateContent", body, 1)
            answer = gemini.read_answer(reply.json(NAME, lift="data"))  # inlineData.data: the image
            answers.append(answer)
            if answer.image_b64 is None:
                log.info("upstream=google model=%s withheld an image: %s", job.upstream_model, answer.refusal)
                return None
            return self._image(answer.image_b64)

        images, filtered = await gather_images(job.n, one, NAME)
        conformed = [await conform(image, job.width, job.height) for image in images]
        # We bill the calls that delivered; Google bills every call that generated tokens.
        delivered = sum((a.usage for a in answers if a.image_b64 is not None), TokenUsage())
        charged = sum((a.usage for a in answers), TokenUsage())
        return GenerationResult(images=tuple(conformed), model_used=job.upstream_model, revised_prompt=job.prompt,
                                filtered=filtered, usage=delivered, charged_usage=charged)

    async def _call(self, job: GenerationJob, deadline: Deadline, method: str, body: bytes, images: int) -> Reply:
        async with self._upstream.slot():
            reply = await self._upstream.submit(self._surface.url(job.upstream_model, method), deadline=deadline,
                                                headers=self._surface.headers(), body=body,
                                                retry_delay=_retry_delay, images=images)
        log_call(self.name, method, reply.status, reply.headers.get("x-request-id"))
        if reply.status != 200:
            raise error_for(reply, self._surface.env, job.upstream_model)
        return reply

    async def list_models(self) -> list[UpstreamModel]:
        """The Gemini API's model listing (every page); it announces no shutdown dates."""
        url = self._surface.models_url()
        if url is None:
            raise ProviderUnavailable(f"{NAME} on Vertex AI has no model listing the gateway can read")
        found: list[UpstreamModel] = []
        token = ""
        for _ in range(100):  # bounded: a listing that never ends is not followed forever
            reply = await self._upstream.get(f"{url}?pageSize=1000" + (f"&pageToken={token}" if token else ""),
                                             deadline=Deadline.of(None, 30), headers=self._surface.headers())
            if reply.status != 200:
                raise error_for(reply, self._surface.env)
            page = reply.json(NAME)
            for model in page.get("models") or ():
                if isinstance(model, dict) and isinstance(model.get("name"), str):
                    found.append(UpstreamModel(model["name"].removeprefix("models/")))
            token = str(page.get("nextPageToken") or "")
            if not token:
                break
        return found

    def _image(self, encoded: Base64) -> GeneratedImage:
        try:
            return self._limits.from_base64(encoded)
        except BadImage as exc:
            raise UpstreamError(f"{NAME} returned an unusable image") from exc


def imagen_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    ratio = min(RATIOS, key=lambda r: abs(RATIOS[r] - width / height))
    parameters: dict[str, Any] = {"sampleCount": job.n, "aspectRatio": ratio, "includeRaiReason": True,
                                  "outputOptions": {"mimeType": "image/png"}}
    parameters.update(job.extras)
    return {"instances": [{"prompt": job.prompt}], "parameters": parameters}


def _details(reply: Reply) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    error = reply.error_json().get("error")
    error = error if isinstance(error, dict) else {}
    details = error.get("details")
    return error, [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(reply: Reply) -> float | None:
    for detail in _details(reply)[1]:  # google.rpc.RetryInfo, Google's Retry-After
        match = _RETRY_DELAY.match(str(detail.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    return default_retry_delay(reply)


def error_for(reply: Reply, env: str, model: str = "") -> PerfError:
    """Google's status + canonical code (+ ErrorInfo reason) → our error type."""
    error, details = _details(reply)
    reasons = {d.get("reason") for d in details}
    if reply.status == 404 and model and error.get("status") == "NOT_FOUND":
        # "models/x is not found": shut down (Google's retired ids answer 404 NOT_FOUND); nothing was charged.
        return ModelGone(f"{NAME} no longer serves {model} (404 NOT_FOUND)")
    if reply.status == 400 and _RAI_REFUSAL.search(str(error.get("message", ""))):
        return ContentPolicyViolation(f"{NAME}'s safety filters rejected this prompt")
    if reply.status in (401, 403) or "API_KEY_INVALID" in reasons:
        return ProviderUnavailable(f"{NAME} refused the gateway's credentials; the operator must check {env}")
    if reply.status in (404, 429):
        return ProviderUnavailable(f"{NAME} is not accepting requests for this model now")
    return UpstreamError(f"{NAME} failed with status {reply.status} ({error.get('status', 'no status')})")


def _vertex(values: Mapping[str, str]) -> bool:
    return bool(values.get("VERTEX_PROJECT") and (values.get("VERTEX_ACCESS_TOKEN")
                                                  or values.get("VERTEX_ACCESS_TOKEN_FILE")))


def build(kit: BuildKit) -> GoogleProvider:
    v = kit.values
    surface: Surface
    if _vertex(v):  # Vertex wins when both are configured
        location = v["VERTEX_LOCATION"]
        base = v.get("VERTEX_BASE_URL") or f"https://{location}-aiplatform.googleapis.com"
        surface = VertexSurface(v["VERTEX_PROJECT"], location, base, v.get("VERTEX_ACCESS_TOKEN"),
                                v.get("VERTEX_ACCESS_TOKEN_FILE"))
    else:
        base = v["GEMINI_BASE_URL"]
        surface = GeminiSurface(v["GEMINI_API_KEY"], base)
    upstream, _ = kit.connect(base)
    return GoogleProvider(upstream, surface, limits=kit.limits, default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="google", name=NAME, build=build, capabilities=Capabilities(edit=True, list_models=True),
    settings=(Setting("GEMINI_API_KEY", secret=True, doc="Gemini API key"),
              Setting("GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"),
              Setting("VERTEX_PROJECT"), Setting("VERTEX_LOCATION", "us-central1"),
              # A token, or a file holding the current one (re-read when it changes; see VertexSurface).
              Setting("VERTEX_ACCESS_TOKEN"), Setting("VERTEX_ACCESS_TOKEN_FILE"),
              Setting("VERTEX_BASE_URL")),
    configured=lambda v: bool(v.get("GEMINI_API_KEY")) or _vertex(v),
    env_hint="GEMINI_API_KEY (or VERTEX_PROJECT with VERTEX_ACCESS_TOKEN)",
    default_concurrency=64)
