"""fal.ai on its queue API (`POST {FAL_QUEUE_URL}/{model_id}`, poll `status_url`, fetch `response_url`).

    POST https://queue.fal.run/fal-ai/flux/dev   Authorization: Key <FAL_KEY>
         {"prompt", "image_size": {"width", "height"}, "num_images": n, "output_format": "png", "seed"?}
      → {"request_id", "status_url", "response_url", "cancel_url", "status": "IN_QUEUE"}
    GET status_url   → {"status": "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED", ...}
    GET response_url → the model's output {"images": [{"url", "width", "height", "content_type"}],
                       "has_nsfw_concepts": [bool, ...], "seed", ...}, or the model's error status/body

Async jobs (server/jobs/) get the accepted request's id and queue URLs through GenerationJob.resumption;
a job taken over from a worker that stopped polls those and never submits again.

One request makes all n images (`num_images`, 1..4). An accepted request is never resubmitted (fal
bills by output megapixel; whether a failed request is billed is not documented, so we assume it
may be); a 503 to the submit accepted nothing. The status and response URLs receive our key, so
they must pass the fetcher's rules against fal's queue hosts (a spoofed one would leak it); image
URLs (fal's CDN) are fetched without credentials. An image flagged in `has_nsfw_concepts` is
withheld as moderated. Sources: https://docs.fal.ai/model-endpoints/queue,
https://docs.fal.ai/documentation/model-apis/inference/queue, https://fal.ai/models/fal-ai/flux/dev/api,
fal-ai/fal-js libs/client/src/queue.ts (status names, 500 ms polling).
"""
from __future__ import annotations

import functools
from typing import Any

import orjson

from server.errors import ContentPolicyViolation, ModelGone, PerfError, UpstreamError
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import first_failure, gather_images
from server.providers.fetch import Allowlist, Fetcher, Refused
from server.providers.images import conform
from server.providers.plugin import BuildKit, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call, rate_limited, refused_submit

NAME = "fal.ai"
API_HOSTS = ("queue.fal.run", "*.fal.run", "queue.falrun.com")
DELIVERY_HOSTS = ("fal.media", "*.fal.media")  # v3.fal.media and friends
PENDING = {"IN_QUEUE", "IN_PROGRESS"}


class FalProvider:
    name = "fal"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, queue_url: str,
                 poll_interval_s: float, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._queue = queue_url.rstrip("/")
        self._key = {"Authorization": f"Key {api_key}"}
        self._api = Allowlist.of(API_HOSTS, queue_url)
        self._delivery = Allowlist.of(DELIVERY_HOSTS, queue_url)
        self._poll_interval_s = poll_interval_s
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        resumption = job.resumption
        async with self._upstream.slot():
            accepted: dict[str, Any] | None
            if resumption is not None and resumption.saved is not None:
                accepted, request_id = _resumed(resumption.saved.get(0))
            else:
                reply = await self._upstream.submit(f"{self._queue}/{job.upstream_model}", deadline=deadline,
                                                    headers={**self._key, "Content-Type": "application/json"},
                                                    body=orjson.dumps(request_body(job)))
                accepted = reply.json(NAME) if reply.status in (200, 201, 202) else None
                request_id = str(accepted.get("request_id")) if accepted else None
                log_call(self.name, "submit", reply.status, request_id)
                if accepted is None:
                    raise submit_error_for(reply, job.upstream_model)
            assert accepted is not None
            try:
                if resumption is not None and resumption.saved is None:
                    await resumption.on_accepted(0, {"request_id": request_id or "",
                                                     "status_url": str(accepted.get("status_url", "")),
                                                     "response_url": str(accepted.get("response_url", ""))})
                output = await self._await_output(accepted, request_id, deadline)
            except PerfError as error:
                error.retry_safe = False  # accepted: asking again (here or elsewhere) may pay twice
                raise
        items = output.get("images")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise UpstreamError(f"{NAME} returned an output without an images list")
        flagged = output.get("has_nsfw_concepts")
        flags = flagged if isinstance(flagged, list) else []
        items = items[: job.n]
        fetched: list[GeneratedImage] = []
        filtered = 0
        if items:  # none at all: the pipeline counts a 200 without an image as the upstream failing
            fetched, filtered = await gather_images(
                len(items), lambda i: self._image(items[i], i < len(flags) and flags[i] is True, deadline), NAME)
        conformed = await first_failure([functools.partial(conform, image, job.width, job.height)
                                         for image in fetched])
        return GenerationResult(images=tuple(conformed), revised_prompt=job.prompt, model_used=job.upstream_model,
                                upstream_request_id=request_id, filtered=filtered, charged_images=len(items))

    async def _await_output(self, accepted: dict[str, Any], request_id: str | None,
                            deadline: Deadline) -> dict[str, Any]:
        status_url, response_url = accepted.get("status_url"), accepted.get("response_url")
        if not isinstance(status_url, str) or not isinstance(response_url, str):
            raise UpstreamError(f"{NAME} accepted the request without status and response URLs")
        try:
            self._fetcher.check(status_url, self._api)
            self._fetcher.check(response_url, self._api)
        except Refused as exc:
            raise UpstreamError(f"{NAME} returned a queue URL the gateway will not call") from exc
        status: Any = None
        while status != "COMPLETED":
            await deadline.sleep(self._poll_interval_s, f"{NAME} request")
            reply = await self._upstream.get(status_url, deadline=deadline, headers=self._key)
            if reply.status not in (200, 202):
                log_call(self.name, "status", reply.status, request_id)
                raise error_for(reply)
            status = reply.json(NAME).get("status")
            if status not in PENDING and status != "COMPLETED":
                log_call(self.name, "status", str(status), request_id)
                raise UpstreamError(f"{NAME} reported request status {status!r}")
        log_call(self.name, "status", status, request_id)
        reply = await self._upstream.get(response_url, deadline=deadline, headers=self._key)
        log_call(self.name, "result", reply.status, request_id)
        if reply.status != 200:
            # The model's own failure comes back here, with its status and body.
            raise result_error_for(reply)
        return reply.json(NAME)

    async def _image(self, item: dict[str, Any], flagged: bool, deadline: Deadline) -> GeneratedImage | None:
        if flagged:
            return None  # withheld: fal's safety checker flagged it
        url = item.get("url")
        if not isinstance(url, str):
            raise UpstreamError(f"{NAME} returned an image without a url")
        return await self._fetcher.image(url, self._delivery, deadline)


def _resumed(handle: dict[str, str] | None) -> tuple[dict[str, Any], str | None]:
    """A request queued under a worker that stopped: its saved queue URLs (checked again before use)."""
    if handle is None:
        raise UpstreamError(f"the server running this job stopped while submitting it to {NAME}; it is not "
                            "submitted again (the first submission may have been charged)", retry_safe=False)
    return dict(handle), handle.get("request_id") or None


def request_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    body: dict[str, Any] = {"prompt": job.prompt, "image_size": {"width": width, "height": height},
                            "num_images": job.n, "output_format": "png"}
    if job.seed is not None:
        body["seed"] = job.seed
    body.update(job.extras)
    return body


def _detail(reply: Reply) -> str:
    detail = reply.error_json().get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        detail = detail[0].get("msg")
    return str(detail)[:200] if detail else ""


def submit_error_for(reply: Reply, model: str) -> PerfError:
    """A refused submit: nothing was queued (so nothing charged) for a 404 or 503."""
    if reply.status == 404:
        return ModelGone(f"{NAME} no longer serves {model} (its queue answers 404)")
    return refused_submit(reply, NAME) or error_for(reply)


def result_error_for(reply: Reply) -> PerfError:
    """The model failed: a validation or safety refusal (4xx) or its own error (5xx)."""
    detail = _detail(reply)
    if reply.status in (400, 422) and any(word in detail.lower() for word in ("nsfw", "safety", "content policy")):
        return ContentPolicyViolation(f"{NAME}'s safety checker rejected this request")
    return UpstreamError(f"{NAME} request failed with status {reply.status}" + (f": {detail}" if detail else ""))


def error_for(reply: Reply) -> PerfError:
    if reply.status in (401, 402, 403):
        return account_refused(NAME, reply.status, "FAL_KEY")
    if reply.status == 429:
        return rate_limited(NAME)
    detail = _detail(reply)
    return UpstreamError(f"{NAME} failed with status {reply.status}" + (f": {detail}" if detail else ""))


def build(kit: BuildKit) -> FalProvider:
    queue_url = kit.values["FAL_QUEUE_URL"]
    upstream, fetcher = kit.connect(queue_url)
    return FalProvider(upstream, fetcher, api_key=kit.values["FAL_KEY"], queue_url=queue_url,
                       poll_interval_s=float(kit.values["PERF_FAL_POLL_INTERVAL_SECONDS"]),
                       default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="fal", name=NAME, build=build,
    settings=(Setting("FAL_KEY", secret=True, doc="fal.ai API key"),
              Setting("FAL_QUEUE_URL", "https://queue.fal.run"),
              # fal's own client polls every 500 ms.
              Setting("PERF_FAL_POLL_INTERVAL_SECONDS", "0.5", doc="time between status polls")),
    default_concurrency=32)
