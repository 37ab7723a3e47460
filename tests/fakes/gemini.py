"""Fake Gemini image generation: ``:generateContent`` with image output, and the model listing.

Gemini API: ``POST /v1beta/models/{model}:generateContent`` (``x-goog-api-key``); Vertex AI: the same
method on ``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}`` (Bearer). Request:
``{"contents": [{"role": "user", "parts": [{"text": ...}, {"inlineData": {...}}]}], "generationConfig":
{"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio", "imageSize"}}}``. Answer: one
candidate whose ``content.parts`` hold ``inlineData {mimeType, data}`` (and a text part), plus
``usageMetadata`` with per-modality token counts, and ``modelVersion``.

Refusals come inside a 200 (python-genai enums): a refused prompt has no candidates and
``promptFeedback.blockReason`` (PROHIBITED_CONTENT); a refused output has ``finishReason``
IMAGE_SAFETY and no image part. Image tokens per output image by ``imageSize`` follow Google's
pricing page (1K/2K 1120, 4K 2000 for gemini-3-pro-image; 1120/1680/2520 otherwise).
``GET /v1beta/models`` lists models a page at a time (``pageSize``, ``pageToken``/``nextPageToken``).

Input images (edits and references): ``inlineData`` parts (``inline_data`` and ``mime_type`` too, as
proto JSON allows) ``{"mimeType", "data": <base64>}`` anywhere in ``contents[].parts``, before or after
the text. ``mimeType`` must be image/png, image/jpeg, image/webp, image/heic or image/heif, ``data`` valid
base64, and the bytes an image (PNG/JPEG/WebP are decoded; HEIC/HEIF are taken on trust); otherwise 400
INVALID_ARGUMENT ("Base64 decoding failed ..." / "Unable to process input image ..."). At most 14 input
images (gemini-2.5-flash-image: 3), Google's stated maximum "for best results", enforced here as a 400
so adapters respect it. Prompt image tokens follow Gemini's documented rule: 258 for an image with both
sides at most 384 px, else 258 per 768x768 tile (ceil(w/768) * ceil(h/768)); they appear in
``promptTokensDetails`` as IMAGE and are billed at the model's image-input price. With input images and
no ``aspectRatio`` the output takes the ASPECTS ratio closest to the first input's. ``last_inputs(app)``
lists ``inputs.describe`` of the last request's decoded input images.
"""
from __future__ import annotations

import base64
import math
from typing import Any

from aiohttp import web

from . import base
from .images import make_image
from .inputs import describe, from_b64
from .knobs import ChargeLog, Knobs

PROVIDER = "google"
IMAGE_MODELS = {"gemini-2.5-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-nano-banana-2.1"}
TEXT_MODELS = {"gemini-3-pro", "gemini-3.1-flash"}
ASPECTS = {"1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
           "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672)}
TIERS = {"1K": 1, "2K": 2, "4K": 4}
IMAGE_TOKENS = {"gemini-3-pro-image": {"1K": 1120, "2K": 1120, "4K": 2000}}
DEFAULT_IMAGE_TOKENS = {"1K": 1120, "2K": 1680, "4K": 2520}
# USD per 1M tokens (text in, image in, image out, text out), as the catalog's sources give them.
PRICES = {"gemini-3-pro-image": (2.0, 2.0, 120.0, 12.0), "gemini-nano-banana-2.1": (1.5, 1.5, 30.0, 7.5),
          "gemini-3.1-flash-image": (0.5, 0.5, 60.0, 1.5), "gemini-2.5-flash-image": (0.3, 0.3, 30.0, 2.5)}


def _cost(model: str, usage: dict[str, Any]) -> int:
    def tokens(count: int, usd: float) -> int:
        return -(-count * round(usd * 1_000_000) // 1_000_000)

    text_in, image_in, image_out, text_out = PRICES[model]
    by = {(kind, d["modality"]): d["tokenCount"] for kind in ("prompt", "candidates")
          for d in usage.get(f"{kind}TokensDetails", [])}
    return (tokens(by.get(("prompt", "TEXT"), 0), text_in) + tokens(by.get(("prompt", "IMAGE"), 0), image_in)
            + tokens(by.get(("candidates", "IMAGE"), 0), image_out)
            + tokens(by.get(("candidates", "TEXT"), 0), text_out))


INPUT_MIMES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
MAX_INPUTS = {"gemini-2.5-flash-image": 3}  # Google: "for best results, a maximum of" 3 (2.5) or 14 images
DEFAULT_MAX_INPUTS = 14
# Set to {} by add_routes; generate() keeps the last request's input descriptors under "last".
LAST: web.AppKey[dict[str, list[dict[str, Any]]]] = web.AppKey("gemini_last_inputs", dict)


def last_inputs(app: web.Application) -> list[dict[str, Any]]:
    """``inputs.describe`` of each input image of the last generateContent call, in request order."""
    return app[LAST].get("last", [])


def image_tokens(info: dict[str, Any]) -> int:
    """Gemini's documented rule: 258 tokens up to 384x384, else 258 per 768x768 tile."""
    if info["size"] is None:  # HEIC/HEIF, taken on trust
        return 258
    w, h = info["size"]
    return 258 if max(w, h) <= 384 else 258 * math.ceil(w / 768) * math.ceil(h / 768)


def _inputs(model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Decode and check every inline image (module docstring); their descriptors, in order."""
    infos = []
    for ci, content in enumerate(body["contents"]):
        parts = content.get("parts", []) if isinstance(content, dict) else []
        for pi, part in enumerate(parts):
            blob = part.get("inlineData", part.get("inline_data")) if isinstance(part, dict) else None
            if not isinstance(blob, dict):
                continue
            mime = blob.get("mimeType", blob.get("mime_type"))
            if mime not in INPUT_MIMES:
                raise GeminiError(400, f"Unable to submit request because it has a mimeType parameter with value "
                                       f"{mime}, which is not supported. Update the mimeType and try again.")
            raw = blob.get("data")
            data = from_b64(raw) if isinstance(raw, str) else None
            if data is None:
                raise GeminiError(400, f"Invalid value at 'contents[{ci}].parts[{pi}].inline_data.data' "
                                       f"(TYPE_BYTES), Base64 decoding failed for \"{str(raw)[:32]}\"")
            info = describe(data)
            if info["type"] is None and mime not in ("image/heic", "image/heif"):
                raise GeminiError(400, "Unable to process input image. Please retry or report in "
                                       "https://developers.generativeai.google/guide/troubleshooting")
            infos.append({**info, "mime_type": mime})
    limit = MAX_INPUTS.get(model, DEFAULT_MAX_INPUTS)
    if len(infos) > limit:
        raise GeminiError(400, f"Too many input images: {len(infos)}. {model} accepts at most {limit} images.")
    return infos


def _closest_aspect(size: tuple[int, int] | None) -> str:
    if size is None:
        return "1:1"
    ratio = math.log(size[0] / size[1])
    return min(ASPECTS, key=lambda a: abs(math.log(ASPECTS[a][0] / ASPECTS[a][1]) - ratio))


class GeminiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}.get(code, "INTERNAL")
        self.code, self.body = code, {"error": {"code": code, "message": message, "status": status}}


def _job(model: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list) or not body["contents"]:
        raise GeminiError(400, "* GenerateContentRequest.contents: contents is not specified")
    parts = [p for c in body["contents"] if isinstance(c, dict) for p in c.get("parts", []) if isinstance(p, dict)]
    text = " ".join(p["text"] for p in parts if isinstance(p.get("text"), str))
    inputs = _inputs(model, body)
    if not text.strip() and not inputs:
        raise GeminiError(400, "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty")
    config = body.get("generationConfig") or {}
    modalities = config.get("responseModalities") or ["TEXT"]
    image = config.get("imageConfig") or {}
    aspect = image.get("aspectRatio") or _closest_aspect(inputs[0]["size"] if inputs else None)
    if aspect not in ASPECTS:
        raise GeminiError(400, f"Unsupported aspect ratio: {aspect}. Supported: {', '.join(ASPECTS)}")
    size = image.get("imageSize", "1K")
    if size not in TIERS:
        raise GeminiError(400, f"Invalid image size {size!r}; use 1K, 2K or 4K (upper-case K)")
    if model == "gemini-2.5-flash-image" and "imageSize" in image:
        raise GeminiError(400, "imageSize is not supported by gemini-2.5-flash-image")
    w, h = ASPECTS[aspect]
    return {"model": model, "prompt": text, "w": w * TIERS[size], "h": h * TIERS[size], "size": size,
            "image": "IMAGE" in modalities, "inputs": inputs, "image_tokens": sum(map(image_tokens, inputs))}


def add_routes(app: web.Application, knobs: Knobs, charges: ChargeLog,
               gate: Any, json_response: Any) -> None:
    """Add the generateContent and listing routes to the Google fake (`gate` checks the surface's auth)."""
    app[LAST] = {}
    calls = {"answered": 0}

    async def generate(request: web.Request, vertex: bool) -> web.Response:
        model = request.match_info["model"]
        gate(request, vertex)
        if model in knobs.retired_models or model not in IMAGE_MODELS | TEXT_MODELS:
            raise GeminiError(404, f"models/{model} is not found for API version v1beta, or is not supported "
                                   "for generateContent. Call ListModels to see the list of available models and "
                                   "their supported methods.")
        body = await request.json()
        base.record(request, body)
        job = _job(model, body)
        request.app[LAST]["last"] = job["inputs"]
        prompt_tokens, images_in = max(1, len(job["prompt"]) // 4), job["image_tokens"]
        usage: dict[str, Any] = {"promptTokenCount": prompt_tokens + images_in,
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]
                                 + ([{"modality": "IMAGE", "tokenCount": images_in}] if images_in else [])}
        if knobs.moderate_input:
            usage["totalTokenCount"] = usage["promptTokenCount"]
            return json_response({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage,
                                  "modelVersion": model})
        ordinal = calls["answered"]
        calls["answered"] += 1
        refused = ordinal in knobs.moderate_output_indexes
        made = job["image"] and model in IMAGE_MODELS and not refused
        image_tokens = IMAGE_TOKENS.get(model, DEFAULT_IMAGE_TOKENS)[job["size"]] if made else 0
        parts: list[dict[str, Any]] = [{"text": "Here is the image you asked for."}]
        if made:
            data = knobs.image_override or make_image(job["w"], job["h"], "png")
            parts.append({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}})
        candidates = [{"content": {"role": "model", "parts": parts},
                       "finishReason": "IMAGE_SAFETY" if refused else "STOP", "index": 0}]
        usage.update(candidatesTokenCount=image_tokens + 12, totalTokenCount=usage["promptTokenCount"] + image_tokens + 12,
                     candidatesTokensDetails=[{"modality": "TEXT", "tokenCount": 12}]
                     + ([{"modality": "IMAGE", "tokenCount": image_tokens}] if image_tokens else []))
        if model in PRICES:
            charges.add(PROVIDER, model, 1 if made else 0, base.new_uuid(), micros=_cost(model, usage))
        return json_response({"candidates": candidates, "usageMetadata": usage, "modelVersion": model,
                              "responseId": base.new_hex(8)})

    async def gemini(request: web.Request) -> web.Response:
        return await generate(request, vertex=False)

    async def vertex(request: web.Request) -> web.Response:
        return await generate(request, vertex=True)

    async def list_models(request: web.Request) -> web.Response:
        gate(request, False)
        base.record(request, None)
        names = sorted((IMAGE_MODELS | TEXT_MODELS | {"imagen-4.0-generate-001"}) - knobs.retired_models)
        size = int(request.query.get("pageSize", "50"))
        start = int(request.query.get("pageToken") or 0)
        page = [{"name": f"models/{n}", "displayName": n, "supportedGenerationMethods":
                 ["predict"] if n.startswith("imagen") else ["generateContent", "countTokens"]}
                for n in names[start:start + size]]
        answer: dict[str, Any] = {"models": page}
        if start + size < len(names):
            answer["nextPageToken"] = str(start + size)
        return json_response(answer)

    app.router.add_post("/v1beta/models/{model}:generateContent", gemini)
    for version in ("v1", "v1beta1"):
        app.router.add_post(f"/{version}/projects/{{project}}/locations/{{location}}/publishers/google/"
                            "models/{model}:generateContent", vertex)
    app.router.add_get("/v1beta/models", list_models)
