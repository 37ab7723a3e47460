"""Fake Google Imagen ``:predict`` on both surfaces.

Gemini API: ``POST /v1beta/models/{model}:predict`` with ``x-goog-api-key`` (or ``?key=``).
Vertex AI:  ``POST /v1[beta1]/projects/{p}/locations/{l}/publishers/google/models/{model}:predict``
with ``Authorization: Bearer``. Body ``{"instances": [{"prompt"}], "parameters": {sampleCount,
aspectRatio, ...}}``; answer ``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}``.
Output filtering happens inside a 200: filtered images are missing, ``includeRaiReason`` adds one
``{"raiFilteredReason"}`` entry, and everything filtered without it is ``{}``; filtered images are
not charged. Refused prompts and bad requests are 400 in Google's ``{"error": {code, message, status,
details}}`` envelope; the rate-limit knob answers 429 ``RESOURCE_EXHAUSTED`` with a ``RetryInfo``
detail (Google does not send ``Retry-After``).
"""
from __future__ import annotations

import base64
import secrets
from typing import Any

import orjson
from aiohttp import web

from . import base, gemini
from .images import make_image
from .knobs import ChargeLog, Knobs

PROVIDER = "google"
GEMINI_MODELS = {"imagen-3.0-generate-002", "imagen-4.0-generate-001", "imagen-4.0-ultra-generate-001",
                 "imagen-4.0-fast-generate-001"}
VERTEX_MODELS = GEMINI_MODELS | {"imagen-3.0-generate-001", "imagen-3.0-fast-generate-001",
                                 "imagen-4.0-generate-preview-06-06"}
# Delivered size per aspectRatio at 1K (Imagen 3/4) and 2K (Imagen 4 sampleImageSize "2K").
SIZES_1K = {"1:1": (1024, 1024), "3:4": (896, 1280), "4:3": (1280, 896), "9:16": (768, 1408),
            "16:9": (1408, 768)}
SIZES_2K = {k: (w * 2, h * 2) for k, (w, h) in SIZES_1K.items()}
PERSON = {"dont_allow", "allow_adult", "allow_all"}
IMAGEN_PRICE_MICROS = 40_000  # Imagen 4 Standard, $0.04 per image
SAFETY = {"block_low_and_above", "block_medium_and_above", "block_only_high", "block_none",
          "block_most", "block_some", "block_few", "block_fewest"}
# Parameters the Gemini Developer API does not take (Vertex-only).
VERTEX_ONLY = {"negativePrompt", "seed", "addWatermark", "enhancePrompt", "storageUri"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class ApiError(Exception):
    def __init__(self, code: int, message: str, *details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        error: dict[str, Any] = {"code": code, "message": message, "status": STATUS[code]}
        if details:
            error["details"] = list(details)
        self.body = {"error": error}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _error_info(reason: str, service: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
            "domain": "googleapis.com", "metadata": {"service": service}}


def validate(body: Any, vertex: bool, model: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("Invalid JSON payload received. Expected an object.")
    for key in body:
        if key not in ("instances", "parameters") and not (vertex and key == "labels"):
            msg = f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            raise ApiError(400, msg, {"@type": "type.googleapis.com/google.rpc.BadRequest",
                                      "fieldViolations": [{"description": msg}]})
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise _bad("Image generation failed with the following error: exactly one instance is required.")
    prompt = instances[0].get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _bad("Image generation failed with the following error: prompt is required.")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("Invalid JSON payload received. 'parameters' must be an object.")
    if not vertex:
        for key in VERTEX_ONLY & params.keys():
            raise _bad(f"{key} parameter is not supported in Gemini API.")
    n = params.get("sampleCount", 4)  # the documented default is 4, not 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4:
        raise _bad("Image generation failed with the following error: sampleCount must be between 1 and 4.")
    aspect = params.get("aspectRatio", "1:1")
    if aspect not in SIZES_1K:
        raise _bad(f"Image generation failed with the following error: unsupported aspectRatio {aspect!r}; "
                   f"supported: {', '.join(SIZES_1K)}.")
    person = str(params.get("personGeneration", "allow_adult")).lower()  # case-insensitive on the wire
    if person not in PERSON or (person == "allow_all" and not vertex):
        raise _bad(f"personGeneration {params['personGeneration']!r} is not supported.")
    safety = str(params.get("safetySetting", "block_medium_and_above")).lower()
    if safety not in SAFETY or (safety == "block_none" and not vertex):
        raise _bad(f"safetySetting {params['safetySetting']!r} is not supported.")
    options = params.get("outputOptions") or {}
    mime = options.get("mimeType", "image/png")
    if mime not in ("image/png", "image/jpeg"):
        raise _bad(f"outputOptions.mimeType {mime!r} is not supported; use image/png or image/jpeg.")
    quality = options.get("compressionQuality", 75)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise _bad("outputOptions.compressionQuality must be between 0 and 100.")
    image_size = params.get("sampleImageSize", "1K")
    if model.startswith("imagen-4") and image_size not in ("1K", "2K"):
        raise _bad(f"sampleImageSize {image_size!r} is not supported; use 1K or 2K.")
    if vertex and "seed" in params and params.get("addWatermark", True):
        raise _bad("Seed is not supported when watermark is enabled; set addWatermark to false.")
    if vertex and "negativePrompt" in params and model != "imagen-3.0-generate-001":
        raise _bad(f"negativePrompt is not supported by {model}.")
    w, h = (SIZES_2K if image_size == "2K" else SIZES_1K)[aspect]
    return {"prompt": prompt, "n": n, "w": w, "h": h, "mime": mime, "params": params}


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    @web.middleware
    async def envelope(request: web.Request, handler: base.Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ApiError, gemini.GeminiError) as err:
            return _json(err.body, err.code)
        except web.HTTPNotFound:
            return _json(ApiError(404, "The requested URL was not found on this server.").body, 404)

    app = base.new_app(knobs, envelope)

    def gate_gemini(request: web.Request, model: str | None) -> None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            raise ApiError(403, "Method doesn't allow unregistered callers (callers without established "
                           "identity). Please use API Key or other form of API consumer identity to call "
                           "this API.")
        if key != knobs.expected_api_key:
            raise ApiError(400, "API key not valid. Please pass a valid API key.",
                           _error_info("API_KEY_INVALID", "generativelanguage.googleapis.com"))
        if model is not None and (model not in GEMINI_MODELS or model in knobs.retired_models):
            raise ApiError(404, f"models/{model} is not found for API version v1beta, or is not supported "
                           "for predict. Call ListModels to see the list of available models and their "
                           "supported methods.")

    def gate_vertex(request: web.Request, model: str | None) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 "
                           "access token, login cookie or other valid authentication credential.",
                           _error_info("CREDENTIALS_MISSING", "aiplatform.googleapis.com"))
        if auth[7:].strip() != knobs.expected_api_key:
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                           "token, login cookie or other valid authentication credential.",
                           _error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "aiplatform.googleapis.com"))
        if model is not None and (model not in VERTEX_MODELS or model in knobs.retired_models):
            m = request.match_info
            raise ApiError(404, f"Publisher Model `projects/{m['project']}/locations/{m['location']}/"
                           f"publishers/google/models/{model}` not found.")

    async def predict(request: web.Request, vertex: bool) -> web.Response:
        model = request.match_info["model"]
        (gate_vertex if vertex else gate_gemini)(request, model)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise _bad("Invalid JSON payload received. Unexpected token.") from None
        base.record(request, body)
        if knobs.take("rate_limit_next"):
            delay = f"{knobs.retry_after_s:g}s"
            raise ApiError(429, "Resource has been exhausted (e.g. check quota).",
                           {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [{"quotaMetric": "aiplatform.googleapis.com/"
                                                           "online_prediction_requests_per_base_model",
                                            "quotaId": "ImagenRequestsPerMinute"}]},
                           {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
        job = validate(body, vertex, model)
        if knobs.moderate_input:
            raise _bad("Image generation failed with the following error: The prompt could not be "
                       "submitted. Your current safety filter threshold prohibited one or more words in "
                       "this prompt. If you think this was an error, send feedback. Support codes: 61493863")
        if knobs.take("fail_before_charge_next"):
            raise ApiError(503, "The service is currently unavailable.")
        kept = [i for i in range(job["n"]) if i not in knobs.moderate_output_indexes]
        if kept:  # filtered images are not billed ("You will not be charged for blocked images")
            charges.add(PROVIDER, model, len(kept), base.new_uuid(), micros=IMAGEN_PRICE_MICROS * len(kept))
        if knobs.take("fail_after_charge_next"):
            raise ApiError(500, "Internal error encountered.")
        payload = render(job, kept, knobs.image_override)
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return _json(payload)

    async def gemini_predict(request: web.Request) -> web.Response:
        return await predict(request, vertex=False)

    async def vertex(request: web.Request) -> web.Response:
        return await predict(request, vertex=True)

    def authorize(request: web.Request, vertex: bool) -> None:
        (gate_vertex if vertex else gate_gemini)(request, None)

    gemini.add_routes(app, knobs, charges, authorize, _json)
    app.router.add_post("/v1beta/models/{model}:predict", gemini_predict)
    for version in ("v1", "v1beta1"):  # REST docs use v1, the google-genai SDK uses v1beta1
        app.router.add_post(f"/{version}/projects/{{project}}/locations/{{location}}/publishers/google/"
                            "models/{model}:predict", vertex)
    return app


def _json(obj: Any, status: int = 200) -> web.Response:
    return base.json_response(obj, status, content_type="application/json; charset=UTF-8")


def render(job: dict[str, Any], kept: list[int], override: bytes | None = None) -> dict[str, Any]:
    params, n = job["params"], job["n"]
    fmt = "jpeg" if job["mime"] == "image/jpeg" else "png"
    b64 = base64.b64encode(override if override is not None else make_image(job["w"], job["h"], fmt)).decode()
    predictions: list[dict[str, Any]] = []
    for i in kept:
        if params.get("storageUri"):
            item: dict[str, Any] = {"gcsUri": f"{params['storageUri'].rstrip('/')}/{secrets.token_hex(8)}/"
                                              f"sample_{i}.{fmt}", "mimeType": job["mime"]}
        else:
            item = {"bytesBase64Encoded": b64, "mimeType": job["mime"]}
        if params.get("enhancePrompt"):
            item["prompt"] = f"{job['prompt']}, photorealistic, soft natural light"
        if params.get("includeSafetyAttributes"):
            item["safetyAttributes"] = {"categories": ["Violence"], "scores": [0.1]}
        predictions.append(item)
    filtered = n - len(kept)
    if filtered and params.get("includeRaiReason"):
        reason = (f"Your current safety filter threshold filtered out {filtered} generated images. You will "
                  "not be charged for blocked images. Try rephrasing the prompt. If you think this was an "
                  "error, send feedback." if kept else
                  "Unable to show generated images. All images were filtered out because they violated "
                  "Vertex AI's usage guidelines. You will not be charged for blocked images. Try "
                  "rephrasing the prompt. If you think this was an error, send feedback. Support codes: "
                  "1234567")
        predictions.append({"raiFilteredReason": reason})
    # Everything filtered and no reason requested: Google answers an empty object.
    return {"predictions": predictions} if predictions else {}
