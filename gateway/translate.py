"""Pure translations between the public JSON contract and the proto messages.

Requests: type checks and unknown fields only, each failure naming its `param`; whether a value is
*allowed* (n too large, size not offered) is the server's call, made once for both protocols.
Responses: built by hand so `created`/`latency_ms` stay JSON integers (proto3 JSON would quote int64).
"""
from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from typing import Any

import orjson
import pybase64

from contract.errors import echo
from contract.job_json import perf_json, token_usage_json
from perf.images.v1 import image_service_pb2 as pb

INT32 = (-(2**31), 2**31 - 1)
_STRING_FIELDS = ("model", "size", "quality", "style", "response_format", "user", "background", "output_format",
                  "moderation")
_INT_FIELDS = ("n", "output_compression", "partial_images")
GENERATION_FIELDS = frozenset(("prompt", "max_cost_per_call", "stream", "safety_identifier", *_STRING_FIELDS,
                               *_INT_FIELDS))


class BadRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise BadRequest("The request body must be a JSON object; it was empty.")
    try:
        # orjson caps nesting depth and rejects lone surrogates itself, with a ValueError.
        value = orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    return value


def generation_request(body: dict[str, Any]) -> tuple[pb.GenerateImagesRequest, bool]:
    """The proto request, and whether the caller asked for a stream (`"stream": true`)."""
    for name in body:
        if name not in GENERATION_FIELDS:
            raise BadRequest(f"Unknown parameter: '{echo(name)}'.", param=echo(name))
    request = pb.GenerateImagesRequest()
    prompt = body.get("prompt")
    if prompt is not None:
        request.prompt = _string(prompt, "prompt")
    for name in _STRING_FIELDS:
        value = body.get(name)
        # null means "use the default", as the openai SDK and most clients intend it.
        if value is not None:
            setattr(request, name, _string(value, name))
    for name in _INT_FIELDS:
        value = body.get(name)
        if value is not None:
            setattr(request, name, integer(value, name))
    budget = body.get("max_cost_per_call")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)):
            raise BadRequest("max_cost_per_call must be a number.", param="max_cost_per_call")
        request.max_cost_per_call = float(budget)
    safety_identifier = body.get("safety_identifier")
    if safety_identifier is not None and _string(safety_identifier, "safety_identifier"):
        request.user = safety_identifier  # OpenAI's 2026 name for `user`; it wins when both are sent
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("stream must be a boolean.", param="stream")
    return request, bool(stream)


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer.", param=name)
    if not INT32[0] <= value <= INT32[1]:
        raise BadRequest(f"{name} is out of range.", param=name)
    return value


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.", param=name)
    return value


def generation_response(response: pb.GenerateImagesResponse) -> list[bytes]:
    """The JSON answer as pieces to write in order: the images' base64 is encoded once, straight from the
    raw bytes gRPC carried, and never copied into a larger string or body (a 1.5 MB image is 2 MB of
    base64: building it as a str, then a dict, then one JSON body would hold it three times over)."""
    # Each read of a bytes field makes a new copy of it (upb): read every image's bytes once. Four reads
    # of a 1.1 MB image were a third of the gateway's CPU on large images (py-spy).
    images = [(image, image.data) for image in response.data]
    inline = any(data for _, data in images)
    # Unguessable, so no revised_prompt can contain it (only needed when there are images to splice in).
    marker = f"perf-image-{secrets.token_hex(8)}-" if inline else ""
    items = []
    for index, (image, data) in enumerate(images):
        item = {"b64_json": f"{marker}{index}"} if data else {"url": image.url}
        if image.revised_prompt:
            item["revised_prompt"] = image.revised_prompt
        items.append(item)
    body: dict[str, Any] = {"created": response.created, "data": items, "perf": perf_json(response.perf)}
    # What was delivered, at the top level as OpenAI's 2026 ImagesResponse carries it.
    for name in ("background", "output_format", "quality", "size"):
        if getattr(response, name):
            body[name] = getattr(response, name)
    if response.HasField("usage"):
        body["usage"] = token_usage_json(response.usage)
    text = orjson.dumps(body)
    if not inline:
        return [text]
    parts: list[bytes] = []
    for index, (_, data) in enumerate(images):
        if data:
            before, text = text.split(f"{marker}{index}".encode(), 1)
            parts += [before, pybase64.b64encode(data)]
    return [*parts, text]


def deployment_json(status: pb.DeploymentStatus) -> dict[str, Any]:
    """One live deployment of a model, in the order they are tried, with its circuit breaker's state."""
    return {"id": status.id, "provider": status.provider, "upstream_model": status.upstream_model,
            "configured": status.configured, "circuit": status.circuit,
            # Whole seconds, rounded up, as Retry-After; null while a call would go through.
            "retry_after": math.ceil(status.retry_after_seconds) if status.retry_after_seconds > 0 else None}


def model_json(model: pb.Model) -> dict[str, Any]:
    caps, life = model.capabilities, model.lifecycle
    out: dict[str, Any] = {
        "id": model.id, "object": model.object, "created": model.created, "owned_by": model.owned_by,
        "capabilities": {"sizes": list(caps.sizes), "custom_sizes": caps.custom_sizes, "max_n": caps.max_n,
                         "qualities": list(caps.qualities), "styles": list(caps.styles),
                         "output_formats": list(caps.output_formats), "backgrounds": list(caps.backgrounds),
                         "moderation": list(caps.moderation), "input_fidelity": list(caps.input_fidelity),
                         "size_auto": caps.size_auto, "edit_max_images": caps.edit_max_images, "mask": caps.mask,
                         "edits_without_mask": caps.edits_without_mask, "variations": caps.variations,
                         "streams_partial_images": caps.streams_partial_images},
        "price_model": model.price_model,
        "pricing": [{"size": p.size, "quality": p.quality, "usd_per_image": p.usd_per_image} for p in model.pricing],
        "lifecycle": {"status": life.status, "deprecated_on": life.deprecated_on or None,
                      "shutdown_on": life.shutdown_on or None,
                      "served_by": {"provider": life.served_by.provider, "upstream_model": life.served_by.upstream_model}
                      if life.HasField("served_by") else None},
    }
    for name in ("edit_price", "inpaint_price"):
        if model.HasField(name):
            edit = getattr(model, name)
            out[name.replace("_price", "_pricing")] = {
                "pricing": [{"size": p.size, "quality": p.quality, "usd_per_image": p.usd_per_image} for p in edit.pricing],
                "input_megapixel_usd": edit.input_megapixel_usd}
    if model.deployments:
        out["deployments"] = [deployment_json(d) for d in model.deployments]
    if model.HasField("megapixel_price"):
        mp = model.megapixel_price
        out["megapixel_pricing"] = {"first_megapixel_usd": mp.first_megapixel_usd,
                                    "additional_megapixel_usd": mp.additional_megapixel_usd,
                                    "input_megapixel_usd": mp.input_megapixel_usd}
    if model.HasField("token_price"):
        tp = model.token_price
        out["token_pricing"] = {"text_input_usd_per_1m": tp.text_input_usd, "image_input_usd_per_1m": tp.image_input_usd,
                                "image_output_usd_per_1m": tp.image_output_usd,
                                "text_output_usd_per_1m": tp.text_output_usd}
    return out


def models_response(response: pb.ListModelsResponse) -> bytes:
    return orjson.dumps({"object": "list", "data": [model_json(m) for m in response.data]})


def _totals_json(totals: pb.UsageTotals) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": totals.requests, "failed_requests": totals.failed_requests,
                           "images": totals.images, "cost_usd": totals.cost_usd, "billed_usd": totals.billed_usd}
    if totals.HasField("upstream_cost_usd"):  # operator keys only
        out["upstream_cost_usd"] = totals.upstream_cost_usd
        out["margin_usd"] = totals.margin_usd
    return out


USAGE_PARAMS = frozenset(("start", "end"))


def usage_request(query: Mapping[str, str]) -> pb.GetUsageRequest:
    for name in query:
        if name not in USAGE_PARAMS:
            raise BadRequest(f"Unknown parameter: '{echo(name)}'.", param=echo(name))
    return pb.GetUsageRequest(start=query.get("start", ""), end=query.get("end", ""))


def usage_response(usage: pb.Usage) -> bytes:
    return orjson.dumps({
        "object": usage.object, "key_id": usage.key_id, "mode": usage.mode, "start": usage.start, "end": usage.end,
        "totals": _totals_json(usage.totals),
        "days": [{"date": d.date, **_totals_json(d.totals)} for d in usage.days],
        "models": [{"model": m.model, **_totals_json(m.totals)} for m in usage.models],
        **({"providers": [{"provider": p.provider, **_totals_json(p.totals)} for p in usage.providers]}
           if usage.providers else {}),
    })
