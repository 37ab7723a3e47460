"""The async job routes: JSON ⇄ proto only (the jobs themselves live in server/jobs/).

    POST /v1/images/jobs              a generation (JSON, the body of /v1/images/generations) or an edit
                                      (multipart/form-data, the form of /v1/images/edits), plus an optional
                                      webhook_url → 202 and the queued job
    GET  /v1/images/jobs              the caller's jobs, newest first: ?limit=1..100&after=<job id>
    GET  /v1/images/jobs/{id}         one job; once succeeded with `data` and `perf`, once failed `error`
    POST /v1/images/jobs/{id}/cancel  cancel a queued or running job
"""
from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from contract.errors import echo
from contract.job_json import job_json
from gateway.context import SETTINGS, STUB, SlowBody, json_response, read_body, rpc_metadata
from gateway.errors import forwarded_headers
from gateway.forms import edit_request, read_form
from gateway.translate import BadRequest, generation_request, integer, parse_json_object
from perf.images.v1 import image_service_pb2 as pb

LIST_PARAMS = frozenset(("limit", "after"))


async def submit_job(request: web.Request) -> web.Response:
    submit = pb.SubmitJobRequest()
    if request.content_type == "multipart/form-data":
        settings = request.app[SETTINGS]
        try:
            async with asyncio.timeout(settings.body_read_timeout_s):
                form = await read_form(request, settings.max_upload_file_bytes, settings.max_upload_bytes)
        except TimeoutError:
            raise SlowBody() from None
        webhook = form.text.pop("webhook_url", None)
        edit, stream = edit_request(form)
        submit.edit.CopyFrom(edit)
    else:
        body = parse_json_object(await read_body(request))
        webhook = body.pop("webhook_url", None)
        generation, stream = generation_request(body)
        submit.generation.CopyFrom(generation)
    if stream:
        raise BadRequest("A job is not streamed: watch it with GET /v1/images/jobs/{id} or a webhook_url.",
                         param="stream")
    if webhook is not None:
        if not isinstance(webhook, str):
            raise BadRequest("webhook_url must be a string.", param="webhook_url")
        submit.webhook_url = webhook
    call = request.app[STUB].SubmitJob(submit, **_options(request))
    job = await call
    return json_response(orjson.dumps(job_json(job)), status=202,
                         headers=forwarded_headers(await call.trailing_metadata()))


async def get_job(request: web.Request) -> web.Response:
    job = await request.app[STUB].GetJob(pb.GetJobRequest(id=request.match_info["job_id"]), **_options(request))
    return json_response(orjson.dumps(job_json(job)))


async def cancel_job(request: web.Request) -> web.Response:
    job = await request.app[STUB].CancelJob(pb.GetJobRequest(id=request.match_info["job_id"]), **_options(request))
    return json_response(orjson.dumps(job_json(job)))


async def list_jobs(request: web.Request) -> web.Response:
    query = request.query
    for name in query:
        if name not in LIST_PARAMS:
            raise BadRequest(f"Unknown parameter: '{echo(name)}'.", param=echo(name))
    listing = pb.ListJobsRequest()
    if "limit" in query:
        listing.limit = integer(_decimal(query["limit"]), "limit")
    if "after" in query:
        listing.after = query["after"]
    page = await request.app[STUB].ListJobs(listing, **_options(request))
    body: dict[str, Any] = {"object": "list", "data": [job_json(job) for job in page.data],
                            "first_id": page.first_id or None, "last_id": page.last_id or None,
                            "has_more": page.has_more}
    return json_response(orjson.dumps(body))


def _decimal(text: str) -> int:
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 10:
        raise BadRequest("limit must be an integer.", param="limit")
    return int(text)


def _options(request: web.Request) -> dict[str, Any]:
    return {"metadata": rpc_metadata(request), "timeout": request.app[SETTINGS].request_timeout_s}


def job_routes() -> list[web.RouteDef]:
    return [web.post("/v1/images/jobs", submit_job), web.get("/v1/images/jobs", list_jobs),
            web.get("/v1/images/jobs/{job_id}", get_job), web.post("/v1/images/jobs/{job_id}/cancel", cancel_job)]
