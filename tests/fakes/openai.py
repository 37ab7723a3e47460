"""Fake OpenAI Images API: ``POST /v1/images/generations`` for the DALL·E and GPT-image wires.

DALL·E (dall-e-2/3): ``url`` or ``b64_json``, ``revised_prompt`` on dall-e-3, fixed size lists.
GPT-image (gpt-image-1/-1-mini/-1.5/-2): always ``b64_json``, ``usage``, low/medium/high quality,
``output_format``; gpt-image-2 takes free-form ``WxH`` (multiples of 16). Errors use OpenAI's
``{"error": {message, type, param, code}}`` envelope and every response carries ``x-request-id``.
URL-mode images are served by this app at ``/files/<id>.png`` with a signed, expiring query.

Images are really encoded as asked: ``output_format`` png/jpeg/webp at ``output_compression`` (jpeg and
webp quality, default 100), and ``background: transparent`` gives a PNG/WebP whose alpha channel is 0
outside a centred rectangle (``auto`` and ``opaque`` are opaque; the response says ``opaque``).
``POST /v1/images/edits`` is specified in openai_edits.py and ``stream: true`` (generations and edits)
in openai_stream.py.
"""
from __future__ import annotations

import base64
import time
from functools import lru_cache
from typing import Any

import orjson
from aiohttp import web

from . import base, openai_edits, openai_stream
from .images import MIME, make_image
from .knobs import ChargeLog, Knobs
from .openai_rules import ApiError, moderation_error, validate

PROVIDER = "openai"
# Output tokens per 1024x1024 image by quality (gpt-image-1 table); other sizes scale by area.
_TOKENS_1MP = {"low": 272, "medium": 1056, "high": 4160}
# List prices, USD per 1M tokens (text in, image in, image out): gpt-image-1-mini from OpenAI's model
# page; gpt-image-2 as third parties quote OpenAI's; gpt-image-1 from its launch pricing.
TOKEN_PRICES = {"gpt-image-2": (5.0, 8.0, 30.0), "gpt-image-2-2026-04-21": (5.0, 8.0, 30.0),
                "gpt-image-1-mini": (2.0, 2.5, 8.0), "gpt-image-1": (5.0, 10.0, 40.0),
                "gpt-image-1.5": (5.0, 8.0, 32.0), "chatgpt-image-latest": (5.0, 8.0, 32.0)}
DALLE_PRICES = {("dall-e-3", "1024x1024", "standard"): 0.04, ("dall-e-3", "1024x1024", "hd"): 0.08,
                ("dall-e-2", "1024x1024", "standard"): 0.02, ("dall-e-2", "512x512", "standard"): 0.018,
                ("dall-e-2", "256x256", "standard"): 0.016}
# The `shutdown_date` GET /v1/models reports (OpenAI's deprecations page); None: none announced.
SHUTDOWN_DATES = {"gpt-image-2": None, "gpt-image-2-2026-04-21": None, "gpt-image-1": "2026-10-23",
                  "gpt-image-1-mini": "2026-12-01", "gpt-image-1.5": "2026-12-01",
                  "chatgpt-image-latest": "2026-12-01", "dall-e-2": "2026-05-12", "dall-e-3": "2026-05-12"}


def list_price_micros(job: dict[str, Any], usage: dict[str, Any] | None) -> int:
    def tokens(count: int, usd_per_million: float) -> int:
        return -(-count * round(usd_per_million * 1_000_000) // 1_000_000)

    if usage is None:
        size = f"{job['w']}x{job['h']}"
        return round(DALLE_PRICES.get((job["model"], size, job["quality"]), 0.08) * 1_000_000) * job["n"]
    text_in, image_in, image_out = TOKEN_PRICES[job["model"]]
    return (tokens(usage["input_tokens_details"]["text_tokens"], text_in)
            + tokens(usage["input_tokens_details"]["image_tokens"], image_in)
            + tokens(usage["output_tokens"], image_out))


def usage_for(job: dict[str, Any]) -> dict[str, Any]:
    """GPT-image ``usage``: text tokens ~ prompt/4, input image tokens from the job (edits), output by area."""
    per_image = round(_TOKENS_1MP[job["quality"]] * job["w"] * job["h"] / (1024 * 1024))
    text = max(1, len(job["prompt"]) // 4)
    images_in = job.get("image_tokens", 0)
    out = per_image * job["n"]
    return {"total_tokens": text + images_in + out, "input_tokens": text + images_in, "output_tokens": out,
            "input_tokens_details": {"text_tokens": text, "image_tokens": images_in},
            "output_tokens_details": {"image_tokens": out, "text_tokens": 0}}


@lru_cache(maxsize=16)
def _b64_image(width: int, height: int, fmt: str, detail: float, transparent: bool, quality: int | None) -> str:
    # Cached: benchmarks measure the gateway, not the fake re-encoding the same megabytes.
    return base64.b64encode(make_image(width, height, fmt, detail, transparent, quality)).decode()


def make_app(knobs: Knobs, charges: ChargeLog) -> web.Application:
    @web.middleware
    async def envelope(request: web.Request, handler: base.Handler) -> web.StreamResponse:
        # x-request-id on every response, errors included: the SDK surfaces it and so must adapters.
        request[base.REQUEST_ID] = "req_" + base.new_hex()
        request[openai_stream.STARTED] = time.monotonic()
        try:
            resp = await handler(request)
        except ApiError as err:
            resp = base.json_response(err.body, err.status, err.headers)
        except web.HTTPNotFound:
            resp = base.json_response(ApiError(404, f"Invalid URL ({request.method} {request.path})").body, 404)
        except web.HTTPMethodNotAllowed:
            resp = base.json_response(ApiError(405, f"Invalid method for URL ({request.method} "
                                               f"{request.path})").body, 405)
        except web.HTTPRequestEntityTooLarge:
            resp = base.json_response(ApiError(413, "Request body too large.", code="request_too_large").body, 413)
        if not resp.prepared:  # a stream already sent these (openai_stream.headers)
            resp.headers.update(openai_stream.headers(request))
        return resp

    app = base.new_app(knobs, envelope)
    app[openai_edits.LAST] = {}

    def authorize(request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                           "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                           "or as the password field (with blank username) if you're accessing the API "
                           "from your browser and are prompted for a username and password. You can "
                           "obtain an API key from https://platform.openai.com/account/api-keys.")
        key = auth[7:].strip()
        if key != knobs.expected_api_key:
            masked = key[:3] + "*" * 4 + key[-4:] if len(key) > 8 else "***"
            raise ApiError(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                           "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def admit(model: Any) -> None:
        """Rate limit and retired models: checked after the body is recorded, before its rules."""
        if knobs.take("rate_limit_next"):
            retry = knobs.retry_after_s
            raise ApiError(429, "Rate limit reached for images per minute in organization org-fake. "
                           "Limit: 5/1min. Current: 6/1min. Please visit "
                           "https://platform.openai.com/account/rate-limits to learn more.",
                           type_="requests", code="rate_limit_exceeded",
                           headers={"retry-after": base.seconds_header(retry),
                                    "retry-after-ms": str(int(retry * 1000))})
        if isinstance(model, str) and model in knobs.retired_models:
            raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")

    async def run(request: web.Request, job: dict[str, Any], kind: str) -> web.StreamResponse:
        """The shared tail of generations and edits: moderation and failure knobs, charge, answer."""
        rid = request[base.REQUEST_ID]
        if knobs.moderate_input:
            raise moderation_error(job, rid, "input")
        if knobs.take("fail_before_charge_next"):
            raise ApiError(503, "The engine is currently overloaded, please try again later.",
                           type_="server_error")
        # OpenAI never returns a partial set: one flagged output fails the whole request.
        flagged = bool(knobs.moderate_output_indexes & set(range(job["n"])))
        usage = usage_for(job) if job["gpt"] else None

        def charge(final: dict[str, Any] | None) -> None:
            charges.add(PROVIDER, job["model"], job["n"], rid, micros=list_price_micros(job, final))

        if job["stream"]:
            assert usage is not None
            blocked = moderation_error(job, rid, "output") if flagged else None
            return await openai_stream.respond(request, knobs, job, usage, kind, charge, blocked)
        if flagged:
            raise moderation_error(job, rid, "output")
        charge(usage)
        if knobs.take("fail_after_charge_next"):
            raise ApiError(500, "The server had an error while processing your request. Sorry about that!",
                           type_="server_error")
        payload = render(request, knobs, job, usage)
        if knobs.take("malformed_body_next"):
            return web.Response(body=base.truncated(base.dumps(payload)), content_type="application/json")
        return base.json_response(payload)

    async def generate(request: web.Request) -> web.StreamResponse:
        authorize(request)
        try:
            body = await request.json(loads=orjson.loads)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely "
                           "means you aren't using your HTTP library correctly. The OpenAI API expects "
                           "a JSON payload, but what was sent was not valid JSON. If you have trouble "
                           "figuring out how to fix this, please contact us through our help center at "
                           "help.openai.com.)") from None
        base.record(request, body)
        admit(body.get("model") if isinstance(body, dict) else None)
        return await run(request, validate(body), "image_generation")

    async def edit(request: web.Request) -> web.StreamResponse:
        authorize(request)
        upload = await openai_edits.receive(request)
        admit(upload.fields.get("model"))
        return await run(request, openai_edits.validate(upload), "image_edit")

    async def list_models(request: web.Request) -> web.Response:
        base.record(request, None)
        data = [{"id": model, "object": "model", "created": 1_745_000_000, "owned_by": "system",
                 "shutdown_date": shutdown} for model, shutdown in SHUTDOWN_DATES.items()
                if model not in knobs.retired_models]
        return base.json_response({"object": "list", "data": data})

    download = base.blob_download(knobs)

    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/images/generations", generate)
    app.router.add_post("/v1/images/edits", edit)
    app.router.add_get("/files/{key}.png", download)
    return app


def b64_output(knobs: Knobs, job: dict[str, Any]) -> str:
    """One GPT-image output as base64, encoded as the job asks (or the knob's override bytes)."""
    if knobs.image_override is not None:
        return base64.b64encode(knobs.image_override).decode()
    return _b64_image(job["w"], job["h"], job["format"], knobs.image_detail,
                      job["background"] == "transparent", job["compression"])


def render(request: web.Request, knobs: Knobs, job: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    """The 200 body: DALL·E ``data[].url|b64_json`` (+ revised_prompt), GPT-image b64 + usage."""
    items: list[dict[str, Any]] = []
    for _ in range(job["n"]):
        if job["gpt"]:
            item: dict[str, Any] = {"b64_json": b64_output(knobs, job)}
        elif job["response_format"] == "b64_json":
            data = knobs.image_override or make_image(job["w"], job["h"], "png", knobs.image_detail)
            item = {"b64_json": base64.b64encode(data).decode()}
        else:
            files: base.FileStore = request.app[base.FILES]
            key = files.put(make_image(job["w"], job["h"], "png", knobs.image_detail), MIME["png"])
            path = f"/files/{key}.png"
            exp = int(time.time() + base.ttl(knobs, 3600))  # DALL·E URLs live 60 minutes
            item = {"url": f"{base.origin(request)}{path}?st={int(time.time())}&se={exp}&sp=r&sv=2021-08-06"
                           f"&sr=b&sig={files.sign(path, exp)}"}
        if job["model"] == "dall-e-3":
            item["revised_prompt"] = f"A detailed, high-quality rendering of: {job['prompt']}"
        items.append(item)
    payload: dict[str, Any] = {"created": int(time.time()), "data": items}
    if job["gpt"]:
        payload.update(usage=usage, background=job["background"], output_format=job["format"],
                       size=f"{job['w']}x{job['h']}", quality=job["quality"])
    return payload
