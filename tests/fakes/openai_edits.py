"""Fake OpenAI ``POST /v1/images/edits``: multipart/form-data exactly as the official SDKs send it.

Request (``Authorization: Bearer``; any other Content-Type than multipart/form-data is 400; parts in any
order, chunked bodies accepted; a field's last occurrence wins):

- file parts: ``image`` (one file) **or** ``image[]`` (repeated, 1..16; the SDKs send a list, even of one,
  as ``image[]``; both names in one request is 400 ``param: image``); optional ``mask``. Filenames and
  part Content-Types are ignored: the type is sniffed from the bytes (PNG/JPEG/WebP, see inputs.py) and
  the pixel size read from the header.
- text parts: ``prompt`` (required; at most 32000 chars, dall-e-2 1000), ``model`` (default
  ``gpt-image-1.5``, the SDK's documented edit default; also gpt-image-1, gpt-image-1-mini, gpt-image-2,
  gpt-image-2-2026-04-21, chatgpt-image-latest, dall-e-2), ``n`` 1..10, ``size``, ``quality``,
  ``background``, ``output_format``, ``output_compression``, ``input_fidelity``, ``response_format``
  (dall-e-2 only), ``user``, ``safety_identifier``, ``stream`` (``true``/``false``), ``partial_images``
  0..3. Integers are decimal strings, booleans ``true``/``false``; anything else is 400 ``invalid_type``.
  Any other part name is 400 ``unknown_parameter`` -- including ``moderation`` and ``style``, which the
  edit endpoint does not take (SDK ``image_edit_params``).

Rules, as 400s in OpenAI's ``{"error": {message, type, param, code}}`` envelope:

- GPT image models: each image PNG, JPEG or WebP, at most 50 MB (``param: image``, code
  ``image_too_large``), at most 16 (``array_above_max_length``). dall-e-2: exactly one square PNG under
  4 MB, and without a mask it must have an alpha channel (``invalid_image_format``).
- An image that is not PNG/JPEG/WebP or does not decode: ``param: image``, code ``invalid_image_file``,
  "Invalid image file or mode for image N, ..." (N is 1-based). No image at all: ``missing_required_parameter``.
- ``mask``: PNG, under 4 MB, with an alpha channel (else ``invalid_image_file``, ``param: mask``), and the
  same pixel size as the first image (else ``invalid_value``, ``param: mask``). Fully transparent pixels
  (alpha 0) are the area to edit.
- ``input_fidelity``: ``high`` | ``low`` (default low). gpt-image-1-mini supports only ``low``
  (``high`` is ``unsupported_value``); gpt-image-2 takes none ("omit this parameter": any value is
  ``unsupported_parameter``); dall-e-2: ``unknown_parameter``.
- ``size``: as for generations (gpt-image-2 free-form ``WxH``; other GPT models 1024x1024, 1536x1024,
  1024x1536, auto; dall-e-2 256x256, 512x512, 1024x1024, default 1024x1024). ``auto`` follows the first
  image: width/height >= 1.25 gives 1536x1024, <= 0.8 gives 1024x1536, else 1024x1024.
- ``quality``, ``background``, ``output_format``, ``output_compression``, ``partial_images``: as for
  generations (openai_rules.py). ``stream=true``: GPT models only, and only with n=1 (400
  "Streaming is only supported with n=1.", ``param: n``); the answer is then the SSE stream of
  openai_stream.py with ``image_edit.*`` events.

Answer (200): ``ImagesResponse`` as for generations: ``created``, ``data[]`` of ``{b64_json}`` (GPT) or
``{url}``/``{b64_json}`` (dall-e-2, by ``response_format``, default url), and for GPT models ``usage``
plus the top-level ``background``, ``output_format``, ``size`` (``WxH`` delivered), ``quality``.
``usage.input_tokens_details``: ``text_tokens`` = max(1, len(prompt) // 4); ``image_tokens`` = the sum over
the input images (not the mask) of OpenAI's vision tile rule for gpt-image-1: fit inside 2048x2048, scale
down so the shorter side is at most 512 (rounding down), tiles = ceil(w/512) * ceil(h/512), tokens =
65 + 129 * tiles (a 1024x1024 input is 194 tokens, as measured on the live API); ``input_fidelity=high``
adds 2856 tokens per megapixel of the fitted image (so 3050 for 1024x1024, fal's published figure).
Output tokens as for generations. Charged (ChargeLog) at list price from openai.TOKEN_PRICES (dall-e-2:
DALLE_PRICES), like generations; every generation knob applies.

Recording: ``Seen.body`` holds the text parts exactly as sent (strings) and, per file part name, a list of
``inputs.describe`` dicts plus ``filename`` and ``content_type`` (the mask's also ``edit_share``: share of
fully transparent pixels). ``last_upload(app)`` gives the raw bytes of the last request's images and mask.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from . import base
from .inputs import describe, edit_share
from .openai_rules import GPT_IMAGE_MODELS, ApiError, _invalid_value, build_job

DEFAULT_MODEL = "gpt-image-1.5"
EDIT_MODELS = (*sorted(GPT_IMAGE_MODELS), "dall-e-2")
MAX_IMAGES = 16
GPT_IMAGE_MAX = 50 * 1024 * 1024
SMALL_MAX = 4 * 1024 * 1024  # dall-e-2 images and every mask
TOTAL_MAX = 256 * 1024 * 1024  # the fake's own cap on a whole body (OpenAI's is not documented): 413 above
TEXT = {"prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression",
        "input_fidelity", "response_format", "user", "safety_identifier", "stream", "partial_images"}
FILES = {"image", "image[]", "mask"}
INTS = {"n", "output_compression", "partial_images"}
NO_FIDELITY = {"gpt-image-2", "gpt-image-2-2026-04-21"}  # "For gpt-image-2, omit this parameter"
LOW_FIDELITY_ONLY = {"gpt-image-1-mini"}


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Upload:
    """One edit request as received: text parts (last one wins) and file parts by name, in order."""

    rid: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[Part]] = field(default_factory=dict)

    @property
    def images(self) -> list[bytes]:
        return [p.data for p in self.files.get("image", []) + self.files.get("image[]", [])]

    @property
    def mask(self) -> bytes | None:
        masks = self.files.get("mask")
        return masks[-1].data if masks else None


# Set to {} by openai.make_app (an app's state cannot change once it runs); receive() fills "last".
LAST: web.AppKey[dict[str, Upload]] = web.AppKey("openai_last_upload", dict)


def last_upload(app: web.Application) -> Upload:
    """The last edit request this app received, raw bytes included (only the last is kept)."""
    return app[LAST]["last"]


def _bad(message: str, param: str | None, code: str | None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


async def receive(request: web.Request) -> Upload:
    """Read the multipart body part by part (any order, chunked or not), record it, and keep it."""
    if request.content_type != "multipart/form-data":
        raise _bad(f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data. "
                   "(HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')",
                   None, "invalid_content_type")
    upload, total = Upload(request[base.REQUEST_ID]), 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                raise _bad("Could not parse multipart form: every part needs a name.", None, None)
            data = bytearray()
            while chunk := await part.read_chunk(1 << 20):
                total += len(chunk)
                if total > TOTAL_MAX:
                    raise ApiError(413, f"Request body too large: the limit is {TOTAL_MAX} bytes.",
                                   code="request_too_large")
                data += chunk
            if part.filename is None:
                upload.fields[part.name] = data.decode("utf-8", "replace")
            else:
                upload.files.setdefault(part.name, []).append(
                    Part(part.name, part.filename, part.headers.get("Content-Type"), bytes(data)))
    except ApiError:
        raise
    except Exception:
        raise _bad("Could not parse multipart form.", None, None) from None
    seen: dict[str, Any] = dict(upload.fields)
    for name, parts in upload.files.items():
        seen[name] = [{**describe(p.data), "filename": p.filename, "content_type": p.content_type} for p in parts]
        if name == "mask":
            for info, p in zip(seen[name], parts):
                if info["type"] is not None:
                    info["edit_share"] = edit_share(p.data, "transparent")
    base.record(request, seen)
    request.app[LAST]["last"] = upload
    return upload


def input_image_tokens(width: int, height: int, fidelity: str) -> int:
    """Tokens one input image costs (module docstring): the gpt-image-1 vision tile rule, + high fidelity."""
    scale = min(1.0, 2048 / max(width, height))
    fw, fh = math.floor(width * scale), math.floor(height * scale)
    w, h = fw, fh
    if min(w, h) > 512:
        shrink = 512 / min(w, h)
        w, h = math.floor(w * shrink), math.floor(h * shrink)
    tokens = 65 + 129 * math.ceil(w / 512) * math.ceil(h / 512)
    return tokens + (round(2856 * fw * fh / (1024 * 1024)) if fidelity == "high" else 0)


def _typed(name: str, raw: str) -> Any:
    if name in INTS:
        if not re.fullmatch(r"-?\d+", raw.strip()):
            raise _bad(f"Invalid type for '{name}': expected an integer, but got a string instead.", name,
                       "invalid_type")
        return int(raw)
    if name == "stream":
        if raw.lower() not in ("true", "false"):
            raise _bad("Invalid type for 'stream': expected a boolean, but got a string instead.", name,
                       "invalid_type")
        return raw.lower() == "true"
    return raw


def _auto_size(width: int, height: int) -> tuple[int, int]:
    ratio = width / height
    return (1536, 1024) if ratio >= 1.25 else (1024, 1536) if ratio <= 0.8 else (1024, 1024)


def validate(upload: Upload) -> dict[str, Any]:
    """Apply the edit rules (module docstring) and return the job ``openai.run`` answers."""
    for name in upload.fields:
        if name in FILES:
            raise _bad(f"Invalid type for '{name}': expected a file, but got a string instead.", name,
                       "invalid_type")
        if name not in TEXT:
            raise _bad(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    for name in upload.files:
        if name not in FILES:
            raise _bad(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    body = {name: _typed(name, raw) for name, raw in upload.fields.items()}
    if "prompt" not in body:
        raise _bad("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    model = body.get("model") or DEFAULT_MODEL
    if model not in EDIT_MODELS:
        raise _invalid_value("model", model, EDIT_MODELS)
    gpt = model in GPT_IMAGE_MODELS
    if "image" in upload.files and "image[]" in upload.files:
        raise _bad("Provide either 'image' or 'image[]', not both.", "image", "invalid_value")
    images = upload.files.get("image") or upload.files.get("image[]") or []
    if not images:
        raise _bad("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    limit = MAX_IMAGES if gpt else 1
    if len(images) > limit:
        raise _bad(f"Invalid 'image': array too long. Expected an array with maximum length {limit}, but got "
                   f"an array with length {len(images)} instead.", "image", "array_above_max_length")
    sizes = []
    for i, part in enumerate(images, 1):
        if len(part.data) > (GPT_IMAGE_MAX if gpt else SMALL_MAX):
            mb = 50 if gpt else 4
            raise _bad(f"Invalid 'image': image {i} is {len(part.data)} bytes; each image must be smaller "
                       f"than {mb} MB.", "image", "image_too_large")
        info = describe(part.data)
        if info["type"] is None:
            raise _bad(f"Invalid image file or mode for image {i}, please check your image file. If you "
                       f"believe this is an error, contact us at help.openai.com and include the request "
                       f"ID {upload.rid}.", "image", "invalid_image_file")
        if not gpt and (info["type"] != "png" or info["size"][0] != info["size"][1]):
            raise _bad("Uploaded image must be a square PNG and less than 4 MB.", "image", "invalid_image_format")
        sizes.append(info)
    mask = upload.mask
    if mask is not None:
        if len(mask) > SMALL_MAX:
            raise _bad("Invalid 'mask': the mask must be a PNG smaller than 4 MB.", "mask", "invalid_value")
        info = describe(mask)
        if info["type"] != "png" or not info["alpha"]:
            raise _bad("Invalid mask image: the mask must be a valid PNG with an alpha channel (fully "
                       "transparent pixels mark the area to edit).", "mask", "invalid_image_file")
        if info["size"] != sizes[0]["size"]:
            (mw, mh), (iw, ih) = info["size"], sizes[0]["size"]
            raise _bad(f"Invalid 'mask': the mask must have the same dimensions as the first image ({iw}x{ih}), "
                       f"but it is {mw}x{mh}.", "mask", "invalid_value")
    elif not gpt and sizes[0]["mode"] not in ("RGBA", "LA", "L"):
        raise _bad(f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {sizes[0]['mode']}.",
                   "image", "invalid_image_format")
    fidelity = body.pop("input_fidelity", None)
    if fidelity is not None:
        if not gpt:
            raise _bad("Unknown parameter: 'input_fidelity'.", "input_fidelity", "unknown_parameter")
        if fidelity not in ("high", "low"):
            raise _invalid_value("input_fidelity", fidelity, ("high", "low"))
        if model in NO_FIDELITY:
            raise _bad("Unsupported parameter: 'input_fidelity' is not supported with this model.",
                       "input_fidelity", "unsupported_parameter")
        if model in LOW_FIDELITY_ONLY and fidelity == "high":
            raise _bad("Unsupported value: 'input_fidelity' does not support 'high' with this model. "
                       "Supported values are: 'low'.", "input_fidelity", "unsupported_value")
    for key in ("user", "safety_identifier"):
        body.pop(key, None)
    job = build_job(body, model, _auto_size(*sizes[0]["size"]))
    job["inputs"] = [info["size"] for info in sizes]
    if gpt:
        job["image_tokens"] = sum(input_image_tokens(w, h, fidelity or "low") for w, h in job["inputs"])
    return job
