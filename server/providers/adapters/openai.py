"""OpenAI Images: generations (`POST {OPENAI_BASE_URL}/images/generations`, JSON) and edits
(`POST .../images/edits`, multipart; variations come here too, as edits with a catalog prompt), each
one call for all n images, answered at once or, when the caller streams, as server-sent events.

The catalog's deployment says which model and which words; openai_wire.py speaks the wire and
openai_stream.py reads the stream. OpenAI never returns a partial set: one flagged output fails the
whole request with 400 `content_policy_violation` (DALL·E) or `moderation_blocked` (GPT-image), or an
`error` event with that code inside a stream.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from server.errors import Timeout, UpstreamError
from server.providers.adapters import openai_wire as wire
from server.providers.adapters.openai_stream import Completed, read_image_stream
from server.providers.base import GeneratedImage, GenerationJob, GenerationResult, UpstreamModel
from server.providers.fanout import first_failure, gather_images
from server.providers.fetch import Allowlist, Fetcher
from server.providers.images import ImageLimits, conform
from server.providers.plugin import BuildKit, Capabilities, ProviderPlugin, Setting
from server.providers.upstream import Deadline, Reply, StreamedReply, Upstream, log_call
from server.runtime.request_context import REQUEST_ID

NAME = wire.NAME
log = logging.getLogger("perf.upstream")
# Where DALL·E `url` results live (Azure blob storage with a SAS signature).
DOWNLOAD_HOSTS = ("oaidalleapiprodscus.blob.core.windows.net",)
Body = bytes | Callable[[], aiohttp.FormData]


class OpenAIProvider:
    name = "openai"

    def __init__(self, upstream: Upstream, fetcher: Fetcher, *, api_key: str, base_url: str,
                 limits: ImageLimits, default_deadline_s: float) -> None:
        self._upstream = upstream
        self._fetcher = fetcher
        base = base_url.rstrip("/")
        self._urls = {"generation": base + "/images/generations", "edit": base + "/images/edits"}
        self._models_url = base + "/models"
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._downloads = Allowlist.of(DOWNLOAD_HOSTS, base_url)
        self._limits = limits
        self._default_deadline_s = default_deadline_s

    async def generate(self, job: GenerationJob) -> GenerationResult:
        deadline = Deadline.of(job.deadline, self._default_deadline_s)
        body: Body
        if job.kind == "edit":
            # A factory: a FormData can be sent once, and a retry must send the whole form again.
            body, headers = functools.partial(wire.edit_form, job), self._auth  # aiohttp adds the boundary
        else:
            body, headers = orjson.dumps(wire.request_body(job)), {**self._auth, "Content-Type": "application/json"}
        url = self._urls[job.kind]
        async with self._upstream.slot():
            if wire.streams(job):
                return await self._streamed(job, url, headers, body, deadline)
            reply = await self._upstream.submit(url, deadline=deadline, headers=headers, body=body,
                                                retry_delay=wire.retry_delay, images=job.n)
        return await self._answered(job, reply, deadline)

    async def _answered(self, job: GenerationJob, reply: Reply, deadline: Deadline) -> GenerationResult:
        """The result of a whole (not streamed) answer."""
        upstream_id = reply.headers.get("x-request-id")
        log_call(self.name, job.kind, reply.status, upstream_id)
        if reply.status != 200:
            raise wire.error_for(reply)
        body = reply.json(NAME, lift="b64_json")
        data = body.get("data")
        if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
            raise UpstreamError(f"{NAME} returned a response without images")
        items = data[: job.n]
        # The call is already charged for every image: deliver those that arrive, fail as the first failure.
        fetched, _ = await gather_images(len(items), lambda i: self._image(items[i], deadline), NAME)
        conformed = await first_failure([functools.partial(self._conformed, job, image) for image in fetched])
        revised = data[0].get("revised_prompt")
        return GenerationResult(images=tuple(conformed), model_used=job.upstream_model,
                                revised_prompt=revised if isinstance(revised, str) and revised else job.prompt,
                                upstream_request_id=upstream_id, charged_images=len(data),
                                usage=wire.token_usage(body.get("usage")),
                                background=wire.reported_background(body.get("background")))

    async def _streamed(self, job: GenerationJob, url: str, headers: dict[str, str], body: Body,
                        deadline: Deadline) -> GenerationResult:
        """Partial images to `job.on_partial` as they arrive, then the result of the completed event."""
        assert job.on_partial is not None
        # Every event carries one image as base64: the partials and the final one, plus their JSON.
        event_cap = self._upstream.body_cap(1)
        total_cap = self._upstream.body_cap(1 + job.partial_images)
        began = False  # a 200 arrived: from here on the work may be done and charged
        try:
            async with self._upstream.submit_stream(url, deadline=deadline, headers=headers, body=body,
                                                    max_bytes=total_cap, retry_delay=wire.retry_delay) as stream:
                upstream_id = stream.reply.headers.get("x-request-id")
                log_call(self.name, f"{job.kind} stream", stream.reply.status, upstream_id)
                if stream.reply.status != 200:
                    raise wire.error_for(stream.reply)
                began = True
                if stream.content_type != "text/event-stream":
                    # Answered whole after all (no partial images): read it as the ordinary answer.
                    return await self._answered(job, await self._whole(stream), deadline)
                done: Completed = await read_image_stream(
                    stream.chunks(), limits=self._limits, max_event_bytes=event_cap, on_partial=job.on_partial,
                    finish=functools.partial(self._conformed, job))
        except (UpstreamError, Timeout) as failure:
            if began:
                # The ledger records no upstream cost for a failed request: this line is what is left to
                # reconcile OpenAI's invoice with.
                log.warning("upstream=%s stream failed after it began, possibly charged upstream_id=%s "
                            "request_id=%s: %s", NAME, upstream_id or "-", REQUEST_ID.get() or "-", failure.message)
            raise
        image = await self._conformed(job, done.image)
        return GenerationResult(images=(image,), model_used=job.upstream_model, revised_prompt=job.prompt,
                                upstream_request_id=upstream_id, charged_images=1, usage=done.usage,
                                background=done.background)

    @staticmethod
    async def _whole(stream: StreamedReply) -> Reply:
        return Reply(stream.reply.status, stream.reply.headers, await stream.read())

    async def _conformed(self, job: GenerationJob, image: GeneratedImage) -> GeneratedImage:
        # `size: auto` is whatever the upstream chose; otherwise exactly the promised size.
        return image if job.size_auto else await conform(image, job.width, job.height)

    async def list_models(self) -> list[UpstreamModel]:
        """OpenAI's model list, each with its announced `shutdown_date` (GET /v1/models)."""
        deadline = Deadline.of(None, 30)
        reply = await self._upstream.get(self._models_url, deadline=deadline, headers=self._auth)
        if reply.status != 200:
            raise wire.error_for(reply)
        found = []
        for item in reply.json(NAME).get("data") or ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                shutdown = item.get("shutdown_date")
                found.append(UpstreamModel(item["id"], shutdown if isinstance(shutdown, str) else None))
        return found

    async def _image(self, item: dict[str, Any], deadline: Deadline) -> GeneratedImage:
        return await wire.data_item_image(item, NAME, self._limits, self._fetcher, self._downloads, deadline)


def build(kit: BuildKit) -> OpenAIProvider:
    base_url = kit.values["OPENAI_BASE_URL"]
    upstream, fetcher = kit.connect(base_url)
    return OpenAIProvider(upstream, fetcher, api_key=kit.values["OPENAI_API_KEY"], base_url=base_url,
                          limits=kit.limits, default_deadline_s=kit.default_deadline_s)


PROVIDER = ProviderPlugin(
    id="openai", name=NAME, build=build,
    capabilities=Capabilities(edit=True, mask=True, stream=True, list_models=True),
    settings=(Setting("OPENAI_API_KEY", secret=True, doc="OpenAI API key"),
              # As the openai SDK spells it, including /v1.
              Setting("OPENAI_BASE_URL", "https://api.openai.com/v1")),
    # OpenAI limits rate, not concurrency.
    default_concurrency=1024)
