"""Replicate official models (`POST {REPLICATE_BASE_URL}/v1/models/{owner}/{name}/predictions`, `Prefer: wait`).

    POST /v1/models/black-forest-labs/flux-1.1-pro/predictions
         Authorization: Bearer <REPLICATE_API_TOKEN>   Prefer: wait=N (N <= 60)
         {"input": {"prompt", "width", "height", "seed"?, ...catalog params}}
      → 201 the prediction: {"id", "status": starting | processing | succeeded | failed | canceled,
        "output": "<uri>" | ["<uri>", ...] | null, "error", "urls": {"get", "cancel", ...}}
    not finished within the wait → poll GET urls.get until it is

Async jobs (server/jobs/) get each created prediction's id and `urls.get` through
GenerationJob.resumption; a job taken over from a worker that stopped polls those and never creates
the prediction again (one killed during the create's wait has no handle: it fails, not retried).

`Prefer: wait` holds the request until the prediction finishes or the wait runs out, so most answers
come on the first call. One prediction per image (FLUX1.1 [pro] makes one), fanned out for n. A
created prediction is never created again (it may be billed); a 503 to the create accepted nothing.
`urls.get` receives our token, so it must pass the fetcher's rules against api.replicate.com; output
files (replicate.delivery, deleted an hour after the prediction) are fetched without it. A prediction
that failed and whose error mentions NSFW counts as moderated (the exact wording is unconfirmed). Sources:
https://replicate.com/docs/topics/predictions/create-a-prediction (sync mode, the prediction object,
replicate.delivery), https://replicate.com/black-forest-labs/flux-1.1-pro/versions/a91bed9b0301d9d10b34b89b1f4d0255f2e2499c59576bfcd13405575dacdb25/api
(inputs: aspect_ratio "custom" with width/height 256..1440; output: one URI).
"""
from __future__ import annotations

from typing import Any

import orjson

from server.errors import ModelGone, PerfError, UpstreamError
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult
from server.providers.fanout import gather_images
from server.providers.fetch import Allowlist, Fetcher, Refused
from server.providers.images import conform
from server.providers.plugin import BuildKit, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, Upstream, account_refused, log_call, rate_limited, refused_submit

NAME = "Replicate"
API_HOSTS = ("api.replicate.com",)
DELIVERY_HOSTS = ("replicate.delivery", "*.replicate.delivery")
RUNNING = {"starting", "processing"}
MAX_WAIT_S = 60  # the longest `Prefer: wait` Replicate holds a request


class ReplicateProvider:
    name = "replicate"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_token: str, base_url: str,
                 poll_interval_s: float, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_token}"}
        self._api = Allowlist.of(API_HOSTS, base_url)
        self._delivery = Allowlist.of(DELIVERY_HOSTS, base_url)
        self._poll_interval_s = poll_interval_s
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        images, filtered = await gather_images(job.n, lambda i: self._prediction(job, i, deadline), NAME)
        conformed = [await conform(image, job.width, job.height) for image in images]
        return GenerationResult(images=tuple(conformed), revised_prompt=job.prompt, model_used=job.upstream_model,
                                filtered=filtered)

    async def _prediction(self, job: GenerationJob, index: int, deadline: Deadline) -> GeneratedImage | None:
        resumption = job.resumption
        async with self._upstream.slot():
            created: dict[str, Any] | None
            if resumption is not None and resumption.saved is not None:
                created, prediction_id = _resumed(resumption.saved.get(index))
            else:
                wait = max(1, min(MAX_WAIT_S, int(deadline.remaining()) - 1))
                reply = await self._upstream.submit(
                    f"{self._base}/v1/models/{job.upstream_model}/predictions", deadline=deadline,
                    headers={**self._auth, "Content-Type": "application/json", "Prefer": f"wait={wait}"},
                    body=orjson.dumps({"input": prediction_input(job)}))
                created = reply.json(NAME) if reply.status in (200, 201, 202) else None
                prediction_id = str(created.get("id")) if created else None
                log_call(self.name, "create", reply.status, prediction_id)
                if created is None:
                    raise create_error_for(reply, job.upstream_model)
            assert created is not None
            try:
                if resumption is not None and resumption.saved is None:
                    urls = created.get("urls")
                    get_url = urls.get("get") if isinstance(urls, dict) else None
                    await resumption.on_accepted(index, {"id": prediction_id or "", "get": str(get_url or "")})
                done = await self._finished(created, prediction_id, deadline)
                return await self._output(done, deadline)
            except PerfError as error:
                error.retry_safe = False  # created: asking again (here or elsewhere) may pay twice
                raise

    async def _finished(self, prediction: dict[str, Any], prediction_id: str | None,
                        deadline: Deadline) -> dict[str, Any]:
        """The prediction once it is succeeded, failed or canceled."""
        if prediction.get("status") not in RUNNING:
            return prediction
        urls = prediction.get("urls")
        get_url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(get_url, str):
            raise UpstreamError(f"{NAME} returned a running prediction without urls.get")
        try:
            self._fetcher.check(get_url, self._api)
        except Refused as exc:
            raise UpstreamError(f"{NAME} returned a prediction URL the gateway will not call") from exc
        while prediction.get("status") in RUNNING:
            await deadline.sleep(self._poll_interval_s, f"{NAME} prediction")
            reply = await self._upstream.get(get_url, deadline=deadline, headers=self._auth)
            if reply.status != 200:
                log_call(self.name, "poll", reply.status, prediction_id)
                raise error_for(reply)
            prediction = reply.json(NAME)
        log_call(self.name, "poll", str(prediction.get("status")), prediction_id)
        return prediction

    async def _output(self, prediction: dict[str, Any], deadline: Deadline) -> GeneratedImage | None:
        status = prediction.get("status")
        if status == "failed":
            error = str(prediction.get("error") or "")
            if "nsfw" in error.lower():
                return None  # the model's safety checker withheld it
            raise UpstreamError(f"{NAME} prediction failed" + (f": {error[:200]}" if error else ""))
        if status != "succeeded":
            raise UpstreamError(f"{NAME} prediction ended with status {status!r}")
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str):
            raise UpstreamError(f"{NAME} prediction succeeded without an output image")
        return await self._fetcher.image(url, self._delivery, deadline)


def _resumed(handle: dict[str, str] | None) -> tuple[dict[str, Any], str | None]:
    """A prediction created under a worker that stopped, as far as polling it again goes."""
    if handle is None:
        raise UpstreamError(f"the server running this job stopped while creating its {NAME} prediction; it is not "
                            "created again (the first may have been billed)", retry_safe=False)
    return {"id": handle.get("id"), "status": "starting", "urls": {"get": handle.get("get")}}, handle.get("id") or None


def prediction_input(job: GenerationJob) -> dict[str, Any]:
    width, height = job.upstream_size or (job.width, job.height)
    body: dict[str, Any] = {"prompt": job.prompt, "width": width, "height": height}
    if job.seed is not None:
        body["seed"] = job.seed
    body.update(job.extras)
    return body


def _detail(reply: Reply) -> str:
    body = reply.error_json()
    detail = body.get("detail") or body.get("title")
    return str(detail)[:200] if detail else ""


def create_error_for(reply: Reply, model: str) -> PerfError:
    """A refused create: nothing was created (so nothing charged) for a 404 or 503."""
    if reply.status == 404:
        return ModelGone(f"{NAME} no longer serves {model} (its predictions endpoint answers 404)")
    return refused_submit(reply, NAME) or error_for(reply)


def error_for(reply: Reply) -> PerfError:
    if reply.status in (401, 402, 403):
        return account_refused(NAME, reply.status, "REPLICATE_API_TOKEN")
    if reply.status == 429:
        return rate_limited(NAME)
    detail = _detail(reply)
    return UpstreamError(f"{NAME} failed with status {reply.status}" + (f": {detail}" if detail else ""))


def build(kit: BuildKit) -> ReplicateProvider:
    base_url = kit.values["REPLICATE_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return ReplicateProvider(upstream, fetcher, api_token=kit.values["REPLICATE_API_TOKEN"], base_url=base_url,
                             poll_interval_s=float(kit.values["PERF_REPLICATE_POLL_INTERVAL_SECONDS"]),
                             default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="replicate", name=NAME, build=build,
    settings=(Setting("REPLICATE_API_TOKEN", secret=True, doc="Replicate API token"),
              Setting("REPLICATE_BASE_URL", "https://api.replicate.com"),
              Setting("PERF_REPLICATE_POLL_INTERVAL_SECONDS", "0.5", doc="time between polls after the wait")),
    # Replicate limits prediction creates to 600 a minute, not concurrency.
    default_concurrency=64)
