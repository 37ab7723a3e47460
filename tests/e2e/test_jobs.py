"""Async jobs through the real gateway and server over sockets: submitted and finished with the synchronous
answer's data and perf, owned by their key, cancelled, listed page by page, refused at submission as the
synchronous call is, over gRPC (Submit, Get, Watch), and a live BFL job whose server is killed mid-poll
finished by another replica (or the restarted one) without a second upstream submission."""
from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.e2e.test_edits_and_streams import multipart
from tests.edit_images import png
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack, http

JOBS = "/v1/images/jobs"
GEN = "/v1/images/generations"
FAST = {"PERF_JOB_POLL_SECONDS": "0.05"}


def finished(stack: Stack, job_id: str, key: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = stack.get(f"{JOBS}/{job_id}", key=key).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def sqlite_ledger(stack: Stack, request_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM usage_ledger WHERE request_id = ?", (request_id,))]


def test_a_job_finishes_with_the_synchronous_answer(stack: Stack, test_key: str) -> None:
    body = {"prompt": "a lighthouse at dusk", "model": "flux-dev", "n": 2, "size": "1024x768"}
    sync = stack.post(GEN, body, key=test_key).json()
    submitted = stack.post(JOBS, body, key=test_key)
    assert submitted.status == 202, submitted.body
    queued = submitted.json()
    assert queued["id"].startswith("job_") and queued["object"] == "image.job"
    assert queued["status"] in ("queued", "running", "succeeded") and isinstance(queued["created"], int)
    job = finished(stack, queued["id"], test_key)
    assert job["status"] == "succeeded", job
    assert set(job["perf"]) == set(sync["perf"]) and len(job["data"]) == len(sync["data"]) == 2
    assert {k: job["perf"][k] for k in ("model_used", "size", "quality", "cost_usd")} == \
        {k: sync["perf"][k] for k in ("model_used", "size", "quality", "cost_usd")}
    assert job["perf"]["request_id"] == submitted.headers["x-request-id"]
    for key in ("size", "quality", "output_format", "background"):
        assert job.get(key) == sync.get(key)
    image = stack.get(job["data"][0]["url"])
    assert image.status == 200 and image.body.startswith(b"\x89PNG")
    # Valid one hour from completion (PERF_IMAGE_TTL_SECONDS), the expiry being in the signed URL.
    expires = int(job["data"][0]["url"].split("/")[-2])
    assert 3600 - 5 <= expires - job["completed_at"] <= 3600
    rows = sqlite_ledger(stack, job["perf"]["request_id"])
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["n_delivered"] == 2


def test_an_edit_job_takes_the_edit_form(stack: Stack, test_key: str) -> None:
    body, content_type = multipart({"prompt": b"make it night", "model": b"flux-pro", "image": png(512, 512),
                                    "response_format": b"b64_json"})
    submitted = http("POST", stack.base_url + JOBS, body, {"Authorization": f"Bearer {test_key}",
                                                           "Content-Type": content_type})
    assert submitted.status == 202, submitted.body
    job = finished(stack, submitted.json()["id"], test_key)
    assert (job["status"], job["kind"], job["size"]) == ("succeeded", "edit", "512x512"), job
    assert base64.b64decode(job["data"][0]["b64_json"]).startswith(b"\x89PNG")
    assert sqlite_ledger(stack, job["perf"]["request_id"])[0]["kind"] == "edit"
    # The edit form's own rules apply: an unknown field is refused at submission.
    body, content_type = multipart({"prompt": b"p", "image": png(64, 64), "colour": b"red"})
    refused = http("POST", stack.base_url + JOBS, body, {"Authorization": f"Bearer {test_key}",
                                                         "Content-Type": content_type})
    assert refused.status == 400 and refused.json()["error"]["param"] == "colour"


def test_a_job_belongs_to_its_key(stack: Stack, test_key: str) -> None:
    job_id = stack.post(JOBS, {"prompt": "mine", "model": "dall-e-2"}, key=test_key).json()["id"]
    other = stack.create_key("test")
    for reply in (stack.get(f"{JOBS}/{job_id}", key=other),
                  stack.post(f"{JOBS}/{job_id}/cancel", {}, key=other),
                  stack.get(f"{JOBS}/job_doesnotexist", key=test_key)):
        assert reply.status == 404, reply.body
        assert reply.json()["error"]["type"] == "not_found"
    assert job_id not in stack.get(JOBS, key=other).body.decode()
    assert stack.get(f"{JOBS}/{job_id}", key=test_key).status == 200


def test_what_cannot_be_a_job_id_names_no_job_on_either_store(make_stack, backends: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """A NUL (PostgreSQL refuses it in text) or any other character no job id has is a client mistake, not a 500."""
    stack = make_stack(**backends)
    key = stack.create_key("test")
    for reply in (stack.get(f"{JOBS}/job_%00", key=key), stack.post(f"{JOBS}/job_%00/cancel", {}, key=key),
                  stack.get(f"{JOBS}/job_%C3%A9", key=key)):
        assert reply.status == 404 and reply.json()["error"]["param"] == "id", reply.body
    for after in ("%00", "job_%00", "job%20x", "job_%C3%A9"):
        reply = stack.get(f"{JOBS}?after={after}", key=key)
        assert reply.status == 400 and reply.json()["error"]["param"] == "after", reply.body
    submitted = stack.post(JOBS, {"prompt": "p", "model": "dall-e-2", "webhook_url": "https://example.com/\u0000"},
                           key=key)
    assert submitted.status == 400 and submitted.json()["error"]["param"] == "webhook_url", submitted.body
    assert "Traceback" not in stack.server_log()


def test_cancel_a_running_job(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="5000", **FAST)
    key = stack.create_key("test")
    submitted = stack.post(JOBS, {"prompt": "too slow", "model": "dall-e-2"}, key=key)
    job_id = submitted.json()["id"]
    deadline = time.monotonic() + 10
    while stack.get(f"{JOBS}/{job_id}", key=key).json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = stack.post(f"{JOBS}/{job_id}/cancel", {}, key=key)
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    assert "data" not in cancelled.json()
    again = stack.post(f"{JOBS}/{job_id}/cancel", {}, key=key)
    assert again.status == 409 and again.json()["error"]["type"] == "conflict"
    deadline = time.monotonic() + 10
    while not sqlite_ledger(stack, submitted.headers["x-request-id"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = sqlite_ledger(stack, submitted.headers["x-request-id"])
    assert len(rows) == 1 and (rows[0]["status"], rows[0]["error_type"], rows[0]["billed_micros"]) == \
        ("error", "cancelled", 0)
    assert stack.get(f"{JOBS}/{job_id}", key=key).json()["status"] == "cancelled"


def test_the_list_pages_newest_first(stack: Stack) -> None:
    key = stack.create_key("test")
    ids = [stack.post(JOBS, {"prompt": f"job {i}", "model": "dall-e-2", "size": "256x256"}, key=key).json()["id"]
           for i in range(5)]
    seen: list[str] = []
    after = ""
    while True:
        page = stack.get(f"{JOBS}?limit=2" + (f"&after={after}" if after else ""), key=key).json()
        assert page["object"] == "list" and len(page["data"]) <= 2
        seen += [job["id"] for job in page["data"]]
        if not page["has_more"]:
            break
        assert page["last_id"] == page["data"][-1]["id"]
        after = page["last_id"]
    assert seen == ids[::-1]
    for bad in ("limit=0", "limit=101", "limit=two", "colour=red"):
        reply = stack.get(f"{JOBS}?{bad}", key=key)
        assert reply.status == 400 and reply.json()["error"]["type"] == "invalid_request", bad


def test_limits_refuse_at_submission_as_the_synchronous_call_does(stack: Stack) -> None:
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "2", "--day-limit", "100")
    assert stack.post(JOBS, {"prompt": "two", "model": "dall-e-2", "n": 2}, key=key).status == 202
    refused = stack.post(JOBS, {"prompt": "one more", "model": "dall-e-2"}, key=key)
    sync = stack.post(GEN, {"prompt": "one more", "model": "dall-e-2"}, key=key)
    assert refused.status == sync.status == 429
    assert refused.json()["error"]["type"] == sync.json()["error"]["type"] == "rate_limit_exceeded"
    assert refused.headers["retry-after"] and refused.headers["x-ratelimit-limit-images-minute"] == "2"
    bad = stack.post(JOBS, {"prompt": "x", "model": "dall-e-2", "size": "7x7"}, key=key)
    assert bad.status == 400 and bad.json()["error"]["param"] == "size"
    streamed = stack.post(JOBS, {"prompt": "x", "model": "dall-e-2", "stream": True}, key=key)
    assert streamed.status == 400 and streamed.json()["error"]["param"] == "stream"
    # A retry with an Idempotency-Key would be a second job (and charge): refused, not ignored.
    keyed = stack.post(JOBS, {"prompt": "x", "model": "dall-e-2"}, key=key, headers={"Idempotency-Key": "retry-1"})
    assert keyed.status == 400 and keyed.json()["error"]["param"] == "Idempotency-Key"
    # Nothing was queued for the refusals: only the first job is listed.
    assert len(stack.get(JOBS, key=key).json()["data"]) == 1


def test_jobs_over_grpc_submit_get_watch(stack: Stack, test_key: str) -> None:
    async def call() -> tuple[pb.Job, list[pb.Job], pb.Job]:
        metadata = (("authorization", f"Bearer {test_key}"),)
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            stub = pb_grpc.ImageServiceStub(channel)
            submitted = await stub.SubmitJob(pb.SubmitJobRequest(generation=pb.GenerateImagesRequest(
                prompt="over grpc", model="flux-dev", response_format="b64_json")), metadata=metadata, timeout=10)
            watched = [job async for job in stub.WatchJob(pb.GetJobRequest(id=submitted.id), metadata=metadata,
                                                          timeout=30)]
            got = await stub.GetJob(pb.GetJobRequest(id=submitted.id), metadata=metadata, timeout=10)
            return submitted, watched, got

    submitted, watched, got = asyncio.run(call())
    assert submitted.status == "queued" and submitted.object == "image.job"
    assert watched[-1].status == "succeeded" and [j.status for j in watched].count("succeeded") == 1
    assert got.result.data[0].data.startswith(b"\x89PNG")  # raw bytes over gRPC
    assert got.result.perf.model_used == "flux-dev" and got.result.perf.cost_usd == pytest.approx(0.025)


@pytest.fixture()
def slow_bfl() -> Iterator[Upstreams]:
    with Upstreams(("bfl",)) as running:
        yield running


@pytest.fixture()
def stacks() -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for running in started:
        running.stop()


def ledger_rows(backends: dict[str, str], stack: Stack, request_id: str) -> list[dict[str, Any]]:
    if "PERF_DATABASE_URL" not in backends:
        return sqlite_ledger(stack, request_id)

    async def query() -> list[dict[str, Any]]:
        import asyncpg

        conn = await asyncpg.connect(backends["PERF_DATABASE_URL"])
        try:
            return [dict(r) for r in await conn.fetch("SELECT * FROM usage_ledger WHERE request_id = $1", request_id)]
        finally:
            await conn.close()

    return asyncio.run(query())


def test_a_killed_server_s_bfl_job_is_resumed_elsewhere_without_a_second_submission(
        backends: dict[str, str], slow_bfl: Upstreams, stacks: list[Stack], tmp_path: Path) -> None:
    bfl = slow_bfl["bfl"]
    bfl.knobs.polls_before_ready = 150  # 3 s of polls at 0.02 s: the kill lands mid-poll
    env = {**slow_bfl.env(), **backends, **FAST, "PERF_JOB_LEASE_SECONDS": "1.5", "PERF_SECRET": "shared-" * 6}
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    first = Stack(first_dir, env_overrides=env).start()
    stacks.append(first)
    key = first.create_key("live")
    submitted = first.post(JOBS, {"prompt": "a slow lighthouse", "model": "flux-dev", "response_format": "url"},
                           key=key)
    assert submitted.status == 202, submitted.body
    job_id = submitted.json()["id"]
    deadline = time.monotonic() + 10
    while bfl.requests("GET", "/v1/get_result") < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bfl.requests("POST", "/v1/flux") == 1 and bfl.requests("GET", "/v1/get_result") >= 10
    assert first.server is not None
    first.server.kill()  # SIGKILL, mid-poll: no cleanup of any kind
    first.server.wait()
    # Another replica on the same PostgreSQL and Redis; with SQLite, the restarted server on the same files.
    second_dir = first_dir if "PERF_DATABASE_URL" not in backends else tmp_path / "second"
    second_dir.mkdir(exist_ok=True)
    first.stop()
    second = Stack(second_dir, env_overrides=env).start()
    stacks.append(second)
    job = finished(second, job_id, key)
    assert job["status"] == "succeeded", job
    assert bfl.requests("POST", "/v1/flux") == 1 and len(bfl.charges) == 1  # never submitted again
    assert "taken over" in second.server_log()
    image = second.get(job["data"][0]["url"])
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    rows = ledger_rows(backends, second, submitted.headers["x-request-id"])
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["status"], row["provider"], row["n_delivered"]) == ("ok", "bfl", 1)
    assert row["billed_micros"] == round(job["perf"]["cost_usd"] * 1_000_000) > 0
    assert row["upstream_cost_micros"] == bfl.charges.micros()


def test_a_job_killed_inside_a_synchronous_upstream_call_fails_and_is_not_retried(stacks: list[Stack],
                                                                                  tmp_path: Path) -> None:
    """An upstream without a polling handle (here: the BFL submit still in flight) is never asked twice."""
    with Upstreams(("bfl",)) as slow:
        bfl = slow["bfl"]
        bfl.knobs.latency_s = 3  # the submit itself hangs; no task id is known when the server dies
        env = {**slow.env(), **FAST, "PERF_JOB_LEASE_SECONDS": "1.5"}
        data = tmp_path / "only"
        data.mkdir()
        first = Stack(data, env_overrides=env).start()
        stacks.append(first)
        key = first.create_key("live")
        submitted = first.post(JOBS, {"prompt": "hangs", "model": "flux-dev"}, key=key)
        job_id = submitted.json()["id"]
        deadline = time.monotonic() + 10
        while first.get(f"{JOBS}/{job_id}", key=key).json()["status"] != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # the submit is on the wire, unanswered
        assert first.server is not None
        first.server.kill()
        first.server.wait()
        first.stop()
        bfl.knobs.latency_s = 0
        second = Stack(data, env_overrides=env).start()
        stacks.append(second)
        job = finished(second, job_id, key)
        assert job["status"] == "failed" and job["error"]["type"] == "upstream_error", job
        time.sleep(0.5)
        # The one submission died with the killed server's connection (the fake reads a body after its
        # latency, and records it only then), and the second server never sent another.
        assert bfl.requests("POST", "/v1/flux") == 0 and not bfl.charges
        rows = sqlite_ledger(second, submitted.headers["x-request-id"])
        assert len(rows) == 1 and (rows[0]["status"], rows[0]["billed_micros"]) == ("error", 0)

