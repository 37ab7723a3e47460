"""Black Forest Labs FLUX (`POST {BFL_BASE_URL}/v1/{model}`, then poll `polling_url`): one image per task.

A task is charged when it is accepted, so the submit is never repeated; polls and the download
are GETs and are retried freely. The returned `polling_url` receives our `x-key`, so it must pass
the fetcher's URL rules against BFL's API hosts before we call it (a spoofed one would leak the
key); the `sample` URL is fetched without credentials. Moderation arrives on the poll: `Request
Moderated` (input) or `Content Moderated` (output). A 503 to the submit accepted nothing (a fallback
may be asked); any other refusal or failure does not say so.

Edits (Kontext, Fill, FLUX.2 references) differ only in the submit body: bfl_edit.py builds it, once
per request, and every task submits the same bytes.

Async jobs (server/jobs/) get each accepted task's `id` and `polling_url` through
GenerationJob.resumption as soon as BFL answers the submit; a job taken over from a worker that
stopped resumes by polling those handles, and a task without one is failed, never submitted again.

A deployment may name a region (catalog `region = "eu"` or `"us"`): its tasks go to BFL's regional
multi-cluster endpoint, `api.eu.bfl.ai` (EU only, GDPR) or `api.us.bfl.ai`, instead of the global
`api.bfl.ai` (https://docs.bfl.ai/integration_guidelines); polls follow the returned `polling_url`.
"""
from __future__ import annotations

from typing import Any

import orjson

from server.errors import InvalidRequest, ModelGone, PerfError, ProviderUnavailable, UpstreamError
from server.providers.adapters.bfl_edit import IMAGE_FIELDS, edit_body
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import gather_images
from server.providers.fetch import Allowlist, Fetcher, Refused
from server.providers.images import conform
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call, refused_submit

NAME = "Black Forest Labs"
API_HOSTS = ("api.bfl.ai", "*.bfl.ai", "api.bfl.ml")
DELIVERY_HOSTS = ("*.bfl.ai",)  # delivery-eu1.bfl.ai, delivery.<region>.bfl.ai
MODERATED = {"Request Moderated", "Content Moderated"}
FAILED = {"Error", "Failed", "Task not found"}
# Anything else ("Pending", and in-progress names some clients report) means: poll again.


class BFLProvider:
    name = "bfl"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, base_url: str,
                 poll_interval_s: float, default_deadline_s: float, regions: dict[str, str] | None = None) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._base = base_url.rstrip("/")
        self._regions = {name: url.rstrip("/") for name, url in (regions or {}).items()}
        self._key = {"x-key": api_key}
        self._api = Allowlist.of(API_HOSTS, base_url, *self._regions.values())
        self._delivery = Allowlist.of(DELIVERY_HOSTS, base_url, *self._regions.values())
        self._poll_interval_s = poll_interval_s
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        body = request_body(job)
        if job.images:
            body = await edit_body(job, body)
        submitted = orjson.dumps(body)  # base64 images make it large: encoded once for all n tasks
        costs: list[float] = []
        images, filtered = await gather_images(job.n, lambda i: self._task(job, i, submitted, deadline, costs), NAME)
        conformed = [await conform(image, job.width, job.height) for image in images]
        return GenerationResult(images=tuple(conformed), revised_prompt=job.prompt, model_used=job.upstream_model,
                                filtered=filtered,
                                # BFL reports credits per task; 1 credit = $0.01.
                                upstream_cost_micros=round(sum(costs) * 10_000) if costs else None)

    async def _task(self, job: GenerationJob, index: int, body: bytes, deadline: Deadline,
                    costs: list[float]) -> GeneratedImage | None:
        resumption = job.resumption
        if resumption is not None and resumption.saved is not None:
            return await self._resumed(resumption.saved.get(index), deadline, costs)
        # The slot covers the whole task: BFL's limit counts active tasks, not requests.
        async with self._upstream.slot():
            base = self._regions.get(job.region or "", self._base)
            reply = await self._upstream.submit(f"{base}/v1/{job.upstream_model}", deadline=deadline,
                                                headers={**self._key, "Content-Type": "application/json"},
                                                body=body)
            accepted = reply.json(NAME) if reply.status == 200 else None
            task_id = str(accepted.get("id")) if accepted else None
            log_call(self.name, "submit", reply.status, task_id)
            if accepted is None:
                raise submit_error_for(reply, job.upstream_model)
            if isinstance(accepted.get("cost"), (int, float)):
                costs.append(float(accepted["cost"]))
            try:
                if resumption is not None:
                    await resumption.on_accepted(index, _handle(accepted, task_id))
                result = await self._await_result(accepted, task_id, deadline)
            except PerfError as error:
                error.retry_safe = False  # the task is accepted and charged: a resubmit pays again
                raise
        return await self._sample(result, deadline)

    async def _resumed(self, handle: dict[str, str] | None, deadline: Deadline,
                       costs: list[float]) -> GeneratedImage | None:
        """A task accepted under a worker that stopped: polled again by its saved handle, never resubmitted."""
        if handle is None:
            raise UpstreamError(f"the server running this job stopped while submitting it to {NAME}; it is not "
                                "submitted again (the first submission may have been charged)", retry_safe=False)
        if handle.get("cost"):
            costs.append(float(handle["cost"]))
        async with self._upstream.slot():
            try:
                result = await self._await_result(dict(handle), handle.get("id"), deadline)
            except PerfError as error:
                error.retry_safe = False
                raise
        return await self._sample(result, deadline)

    async def _sample(self, result: dict[str, Any] | None, deadline: Deadline) -> GeneratedImage | None:
        if result is None:
            return None
        sample = result.get("sample")
        if not isinstance(sample, str):
            raise UpstreamError(f"{NAME} reported a result without an image")
        return await self._fetcher.image(sample, self._delivery, deadline)

    async def _await_result(self, accepted: dict[str, Any], task_id: str | None,
                            deadline: Deadline) -> dict[str, Any] | None:
        polling_url = accepted.get("polling_url") or f"{self._base}/v1/get_result?id={task_id}"
        try:
            self._fetcher.check(str(polling_url), self._api)
        except Refused as exc:
            raise UpstreamError(f"{NAME} returned a polling URL the gateway will not call") from exc
        return await self._poll(str(polling_url), task_id, deadline)

    async def _poll(self, url: str, task_id: str | None, deadline: Deadline) -> dict[str, Any] | None:
        """The task's `result` when Ready, None when moderated; raises on failure or deadline."""
        while True:
            await deadline.sleep(self._poll_interval_s, f"{NAME} task")
            reply = await self._upstream.get(url, deadline=deadline, headers=self._key)
            if reply.status != 200:
                log_call(self.name, "poll", reply.status, task_id)
                raise error_for(reply)
            answer = reply.json(NAME)
            status = answer.get("status")
            if status == "Ready":
                log_call(self.name, "poll", status, task_id)
                result = answer.get("result")
                return result if isinstance(result, dict) else {}
            if status in MODERATED:
                log_call(self.name, "poll", status, task_id)
                return None
            if status in FAILED:
                log_call(self.name, "poll", status, task_id)
                raise UpstreamError(f"{NAME} task ended with status {status!r}")


def _handle(accepted: dict[str, Any], task_id: str | None) -> dict[str, str]:
    """What polls an accepted task again later: its id, polling URL (checked again before use) and cost."""
    cost = accepted.get("cost")
    return {"id": task_id or "", "polling_url": str(accepted.get("polling_url") or ""),
            "cost": str(float(cost)) if isinstance(cost, (int, float)) else ""}


def request_body(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    body: dict[str, Any] = {"prompt": job.prompt, "width": width, "height": height, "output_format": "png"}
    if job.seed is not None:
        body["seed"] = job.seed
    body.update(job.extras)
    return body


def submit_error_for(reply: Reply, model: str) -> PerfError:
    """A refused submit: as error_for, except that 404 means the model's endpoint is gone (nothing charged),
    and a 422 whose pydantic `loc` is one of the image fields means BFL could not use the caller's image."""
    if reply.status == 404:
        return ModelGone(f"{NAME} no longer serves {model} (its endpoint answers 404)")
    if reply.status == 422 and (field := _refused_image_field(reply)) is not None:
        # The caller's own image (ours are checked, but only their headers are read): their 400, not our 502.
        return InvalidRequest(f"{NAME} could not use the input image sent as {field}",
                              param="mask" if field == "mask" else "image")
    return refused_submit(reply, NAME) or error_for(reply)


def _refused_image_field(reply: Reply) -> str | None:
    detail = reply.error_json().get("detail")
    for item in detail if isinstance(detail, list) else ():
        loc = item.get("loc") if isinstance(item, dict) else None
        if isinstance(loc, list) and len(loc) == 2 and loc[0] == "body" and loc[1] in IMAGE_FIELDS:
            return str(loc[1])
    return None


def error_for(reply: Reply) -> PerfError:
    """BFL's status → our error type (FastAPI `{"detail": ...}` bodies carry no stable code)."""
    if reply.status in (401, 402, 403):
        return account_refused(NAME, reply.status, "BFL_API_KEY")
    if reply.status in (404, 429):
        return ProviderUnavailable(f"{NAME} is not accepting requests for this model now")
    return UpstreamError(f"{NAME} failed with status {reply.status}")


def build(kit: BuildKit) -> BFLProvider:
    base_url = kit.values["BFL_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return BFLProvider(upstream, fetcher, api_key=kit.values["BFL_API_KEY"], base_url=base_url,
                       poll_interval_s=float(kit.values["PERF_BFL_POLL_INTERVAL_SECONDS"]),
                       default_deadline_s=kit.default_deadline_s,
                       regions={"eu": kit.values["BFL_EU_BASE_URL"], "us": kit.values["BFL_US_BASE_URL"]})


PROVIDER = ProviderPlugin(
    id="bfl", name=NAME, build=build, capabilities=Capabilities(edit=True, mask=True),
    settings=(Setting("BFL_API_KEY", secret=True, doc="Black Forest Labs API key"),
              Setting("BFL_BASE_URL", "https://api.bfl.ai"),
              # Regional endpoints, for deployments with region = "eu" | "us".
              Setting("BFL_EU_BASE_URL", "https://api.eu.bfl.ai"),
              Setting("BFL_US_BASE_URL", "https://api.us.bfl.ai"),
              Setting("PERF_BFL_POLL_INTERVAL_SECONDS", "0.5", doc="time between polls")),
    # BFL allows 24 active tasks per key (providers.md 3.1).
    default_concurrency=24, regions=("eu", "us"))
