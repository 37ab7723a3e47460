"""Request rules and error envelope of OpenAI's images endpoints (used by ``openai.py`` and ``openai_edits.py``).

``validate`` turns a generations JSON body into a normalised job (``build_job`` holds the rules edits
share) or raises ``ApiError`` carrying OpenAI's ``{"error": {message, type, param, code}}`` body. DALL·E
and GPT-image models accept different parameter sets; a parameter of the other family is refused as
``unknown_parameter``. Job keys: model, gpt, prompt, n, w, h, quality, format, background, compression
(JPEG/WebP quality or None), stream, partial_images, and response_format for DALL·E.
"""
from __future__ import annotations

from typing import Any

DALLE_SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
}
GPT_IMAGE_MODELS = {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2",
                    "gpt-image-2-2026-04-21", "chatgpt-image-latest"}
FREE_FORM_MODELS = {"gpt-image-2", "gpt-image-2-2026-04-21"}
GPT_FIXED_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")
PROMPT_MAX = {"dall-e-2": 1000, "dall-e-3": 4000}  # GPT-image: 32000
QUALITIES = {"dall-e-2": ("standard", "auto"), "dall-e-3": ("standard", "hd", "auto")}
GPT_QUALITIES = ("low", "medium", "high", "auto")

_TYPES: dict[str, type] = {
    "prompt": str, "model": str, "n": int, "size": str, "quality": str, "user": str,
    "response_format": str, "style": str, "output_format": str, "output_compression": int,
    "background": str, "moderation": str, "stream": bool, "partial_images": int, "safety_identifier": str,
}
DALLE_ONLY = {"response_format", "style"}
GPT_ONLY = {"output_format", "output_compression", "background", "moderation", "stream",
            "partial_images"}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers or {}
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a decimal", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), "an unknown type")


def _invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    return ApiError(400, f"Invalid value: '{value}'. Supported values are: {listed}.",
                    param=param, code="invalid_value")


def _int_range(param: str, value: int, lo: int, hi: int) -> None:
    if value < lo:
        raise ApiError(400, f"Invalid '{param}': integer below minimum value. Expected a value >= {lo}, "
                       f"but got {value} instead.", param=param, code="integer_below_min_value")
    if value > hi:
        raise ApiError(400, f"Invalid '{param}': integer above maximum value. Expected a value <= {hi}, "
                       f"but got {value} instead.", param=param, code="integer_above_max_value")


def _parse_free_size(size: str) -> tuple[int, int]:
    """gpt-image-2: WxH, both multiples of 16, ratio within 1:3..3:1, at most 3840x2160 worth."""
    try:
        w, h = (int(v) for v in size.split("x"))
    except ValueError:
        raise ApiError(400, f"Invalid value: '{size}'. Expected 'auto' or a size like '1024x1024'.",
                       param="size", code="invalid_value") from None
    ok = (w > 0 and h > 0 and w % 16 == 0 and h % 16 == 0 and max(w, h) <= 3840
          and w * h <= 3840 * 2160 and max(w, h) <= 3 * min(w, h))
    if not ok:
        raise ApiError(400, f"Invalid size '{size}'. Width and height must be multiples of 16, the "
                       "aspect ratio between 1:3 and 3:1, and the image at most 3840x2160.",
                       param="size", code="invalid_value")
    return w, h


def validate(body: Any) -> dict[str, Any]:
    """Apply OpenAI's generation rules to a JSON body; return the normalised job or raise ApiError."""
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid type for request body: expected an object.", code="invalid_type")
    for key, value in body.items():
        if key not in _TYPES:
            raise ApiError(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
        want = _TYPES[key]
        if value is not None and (not isinstance(value, want) or (want is int and isinstance(value, bool))):
            raise ApiError(400, f"Invalid type for '{key}': expected {_TYPE_NAMES[want]}, but got "
                           f"{_type_name(value)} instead.", param=key, code="invalid_type")
    body = {k: v for k, v in body.items() if v is not None}  # the SDK's explicit nulls mean "default"
    if "prompt" not in body:
        raise ApiError(400, "Missing required parameter: 'prompt'.", param="prompt",
                       code="missing_required_parameter")
    # The spec's default is dall-e-2 unless a GPT-image-only parameter is present.
    model = body.get("model") or ("gpt-image-1" if GPT_ONLY & body.keys() else "dall-e-2")
    if model not in GPT_IMAGE_MODELS and model not in DALLE_SIZES:
        raise _invalid_value("model", model, ("dall-e-2", "dall-e-3", *sorted(GPT_IMAGE_MODELS)))
    return build_job(body, model)


def build_job(body: dict[str, Any], model: str, auto_size: tuple[int, int] = (1024, 1024)) -> dict[str, Any]:
    """The rules generations and edits share, on typed values; ``auto_size`` is what ``size: auto`` gives."""
    gpt = model in GPT_IMAGE_MODELS
    for key in (DALLE_ONLY if gpt else GPT_ONLY) | ({"style"} if model == "dall-e-2" else set()):
        if key in body:  # verified for response_format on GPT-image; assumed symmetric for the rest
            raise ApiError(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
    prompt, limit = body["prompt"], PROMPT_MAX.get(model, 32000)
    if len(prompt) > limit:
        raise ApiError(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                       f"{limit}, but got a string with length {len(prompt)} instead.",
                       param="prompt", code="string_above_max_length")
    n = body.get("n", 1)
    _int_range("n", n, 1, 10)
    if model == "dall-e-3" and n != 1:
        raise ApiError(400, "Invalid 'n': dall-e-3 only supports n=1.", param="n", code="invalid_value")
    size = body.get("size", "auto")
    if not gpt:
        size = "1024x1024" if size == "auto" else size
        if size not in DALLE_SIZES[model]:
            # Real shape for DALL·E: code invalid_size, param null.
            raise ApiError(400, "The size is not supported by this model.", code="invalid_size")
        w, h = (int(v) for v in size.split("x"))
    elif model in FREE_FORM_MODELS and size != "auto":
        w, h = _parse_free_size(size)
    elif size not in GPT_FIXED_SIZES:
        raise _invalid_value("size", size, GPT_FIXED_SIZES)
    else:
        w, h = auto_size if size == "auto" else (int(v) for v in size.split("x"))
    quality = body.get("quality", "auto")
    allowed_q = GPT_QUALITIES if gpt else QUALITIES[model]
    if quality not in allowed_q:
        raise _invalid_value("quality", quality, allowed_q)
    job: dict[str, Any] = {"model": model, "gpt": gpt, "prompt": prompt, "n": n, "w": w, "h": h,
                           "stream": False, "partial_images": 0, "compression": None, "background": "opaque"}
    if not gpt:
        job["quality"] = "standard" if quality == "auto" else quality
        if body.get("style", "vivid") not in ("vivid", "natural"):
            raise _invalid_value("style", body["style"], ("vivid", "natural"))
        job["response_format"] = body.get("response_format", "url")
        if job["response_format"] not in ("url", "b64_json"):
            raise _invalid_value("response_format", job["response_format"], ("url", "b64_json"))
        job["format"] = "png"
        return job
    job["quality"] = "medium" if quality == "auto" else quality
    job["format"] = fmt = body.get("output_format", "png")
    if fmt not in ("png", "jpeg", "webp"):
        raise _invalid_value("output_format", fmt, ("png", "jpeg", "webp"))
    compression = body.get("output_compression", 100)
    _int_range("output_compression", compression, 0, 100)
    job["compression"] = compression if fmt != "png" else None  # png is lossless: the field is moot
    background = body.get("background", "auto")
    if background not in ("transparent", "opaque", "auto"):
        raise _invalid_value("background", background, ("transparent", "opaque", "auto"))
    if background == "transparent" and fmt == "jpeg":
        raise ApiError(400, "Transparent background is not supported for output_format 'jpeg'; use "
                       "'png' or 'webp'.", param="background", code="invalid_value")
    job["background"] = "transparent" if background == "transparent" else "opaque"
    if body.get("moderation", "auto") not in ("low", "auto"):
        raise _invalid_value("moderation", body["moderation"], ("low", "auto"))
    job["partial_images"] = body.get("partial_images", 0)
    _int_range("partial_images", job["partial_images"], 0, 3)
    job["stream"] = bool(body.get("stream"))
    if job["stream"] and n != 1:
        # The message OpenAI answers with (reported by llmgateway#3963); param and code are ours.
        raise ApiError(400, "Streaming is only supported with n=1.", param="n")
    return job


def moderation_error(job: dict[str, Any], rid: str, stage: str) -> ApiError:
    if job["gpt"]:
        return ApiError(400, "Your request was rejected by the safety system. If you believe this is an "
                        f"error, contact us at help.openai.com and include the request ID {rid}. "
                        "safety_violations=[sexual].", type_="image_generation_user_error",
                        code="moderation_blocked",
                        moderation_details={"moderation_stage": stage, "categories": ["sexual"]})
    why = ("Your prompt may contain text that is not allowed by our safety system." if stage == "input"
           else "Image descriptions generated from your prompt may contain text that is not allowed "
                "by our safety system. If you believe this was done in error, your request may "
                "succeed if retried, or by adjusting your prompt.")
    return ApiError(400, "Your request was rejected as a result of our safety system. " + why,
                    code="content_policy_violation")
