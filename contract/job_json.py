"""The public JSON of an async job, shared by the gateway (GET /v1/images/jobs/…) and the server's
webhooks (their `data`), so both say exactly the same thing; and the perf and usage blocks every
image response carries. Built by hand so integers stay JSON integers (proto3 JSON quotes int64)."""
from __future__ import annotations

from typing import Any

import pybase64

from perf.images.v1 import image_service_pb2 as pb


def perf_json(perf: pb.Perf) -> dict[str, Any]:
    return {"request_id": perf.request_id, "model_used": perf.model_used, "size": perf.size,
            "quality": perf.quality, "cost_usd": perf.cost_usd, "latency_ms": perf.latency_ms}


def token_usage_json(usage: pb.TokenUsage) -> dict[str, Any]:
    """OpenAI's `usage` object, field for field."""
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "input_tokens_details": {"text_tokens": usage.input_tokens_details.text_tokens,
                                     "image_tokens": usage.input_tokens_details.image_tokens},
            "output_tokens_details": {"text_tokens": usage.output_tokens_details.text_tokens,
                                      "image_tokens": usage.output_tokens_details.image_tokens}}


def job_json(job: pb.Job) -> dict[str, Any]:
    """`{"id", "object": "image.job", "status", "created", …}`; once succeeded also `data` and `perf` (and the
    rest of the synchronous response), once failed or cancelled `error`, with a webhook its delivery state."""
    out: dict[str, Any] = {"id": job.id, "object": job.object, "status": job.status, "created": job.created,
                           "kind": job.kind, "model": job.model, "completed_at": job.completed_at or None}
    if job.HasField("result"):
        result = job.result
        out["data"] = [_image(image) for image in result.data]
        out["perf"] = perf_json(result.perf)
        for name in ("background", "output_format", "quality", "size"):
            if getattr(result, name):
                out[name] = getattr(result, name)
        if result.HasField("usage"):
            out["usage"] = token_usage_json(result.usage)
    if job.HasField("error"):
        error = job.error
        out["error"] = {"type": error.type, "message": error.message, "param": error.param or None,
                        "code": error.code or None}
    if job.HasField("webhook"):
        hook = job.webhook
        out["webhook"] = {"url": hook.url, "status": hook.status, "attempts": hook.attempts,
                          "last_status": hook.last_status or None}
    return out


def _image(image: pb.Image) -> dict[str, Any]:
    item: dict[str, Any] = {"b64_json": pybase64.b64encode(image.data).decode()} if image.data else {"url": image.url}
    if image.revised_prompt:
        item["revised_prompt"] = image.revised_prompt
    return item
