"""Limits, spend caps and the ledger, exact under concurrency, against both store/limiter pairings."""
from __future__ import annotations

import json
import random
import secrets
import socket
import time

import pytest

from tests.e2e.concurrent import fire
from tests.stack import Stack

GEN = "/v1/images/generations"


def images_of(replies) -> int:  # type: ignore[no-untyped-def]
    return sum(len(r.body["data"]) for r in replies if r.status == 200)


def test_200_concurrent_mixed_n_admit_exactly_the_minute_limit(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    free = stack.create_key("test", "--tier", "free")
    rng = random.Random(7)
    bodies = [{"prompt": f"p{i}", "model": "dall-e-2", "size": "256x256", "n": rng.choice((1, 1, 2, 3))}
              for i in range(200)]
    replies = fire([(stack.base_url + GEN, body) for body in bodies], free)
    assert images_of(replies) == 5
    refused = [(r, b["n"]) for r, b in zip(replies, bodies) if r.status != 200]
    assert refused and all(r.status == 429 for r, _ in refused)
    for reply, n in refused:
        assert reply.body["error"]["type"] == "rate_limit_exceeded"
        assert 1 <= reply.body["error"]["retry_after"] <= 61  # a 1 s bucket counts until its end + 60 s
        assert reply.headers["retry-after"] == str(reply.body["error"]["retry_after"])
        assert reply.headers["x-ratelimit-limit-images-minute"] == "5"
        assert int(reply.headers["x-ratelimit-remaining-images-minute"]) < n
    assert_ledger_matches(stack, free, replies)


def assert_ledger_matches(stack: Stack, key: str, replies) -> None:  # type: ignore[no-untyped-def]
    usage = stack.get("/v1/usage", key=key)
    assert usage.status == 200, usage.body
    totals = usage.json()["totals"]
    assert totals["requests"] == len(replies)
    assert totals["failed_requests"] == sum(1 for r in replies if r.status != 200)
    assert totals["images"] == images_of(replies)
    # Exact: the ledger sums integer micro-dollars; responses carry each request's cost.
    micros = sum(round(r.body["perf"]["cost_usd"] * 1_000_000) for r in replies if r.status == 200)
    assert round(totals["cost_usd"] * 1_000_000) == micros
    assert totals["billed_usd"] == 0  # test keys are never billed


def test_two_server_replicas_sharing_redis_and_postgres_stay_exact(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    if not backends:
        pytest.skip("replicas need the shared store and limiter; the embedded pairing is single-process")
    shared = {**backends, "PERF_SECRET": secrets.token_hex(16)}
    first, second = make_stack(**shared), make_stack(**shared)
    free = first.create_key("test", "--tier", "free")
    rng = random.Random(11)
    requests = [((first if i % 2 else second).base_url + GEN,
                 {"prompt": f"p{i}", "model": "dall-e-2", "size": "256x256", "n": rng.choice((1, 2))})
                for i in range(200)]
    replies = fire(requests, free)
    assert images_of(replies) == 5
    assert_ledger_matches(first, free, replies)

    # Revocation is read from the shared store on every request: both replicas refuse at once.
    key_id = next(line.split("\t")[0] for line in first.keys_command("list").stdout.decode().splitlines()
                  if "enterprise" in line or "free" in line and "test" in line and free[:12] in line)
    assert first.keys_command("revoke", key_id).returncode == 0
    started = time.monotonic()
    for replica in (first, second):
        assert replica.post(GEN, {"prompt": "p"}, key=free).status == 401
    assert time.monotonic() - started < 2


def test_day_exhausted_leaves_the_minute_untouched(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "10", "--day-limit", "3")
    ok = stack.post(GEN, {"prompt": "p", "model": "dall-e-2", "n": 3, "size": "256x256"}, key=key)
    assert ok.status == 200
    assert ok.headers["x-ratelimit-remaining-images-minute"] == "7"
    assert ok.headers["x-ratelimit-remaining-images-day"] == "0"
    refused = stack.post(GEN, {"prompt": "p", "model": "dall-e-2", "n": 1, "size": "256x256"}, key=key)
    assert refused.status == 429
    assert 86_000 < refused.json()["error"]["retry_after"] <= 87_000  # 24 h + at most a 10-minute bucket
    assert refused.headers["x-ratelimit-remaining-images-minute"] == "7"
    too_many = stack.post(GEN, {"prompt": "p", "model": "dall-e-2", "n": 4, "size": "256x256"}, key=key)
    assert too_many.status == 400
    assert too_many.json()["error"]["param"] == "n"


def test_disconnect_mid_generation_releases_the_reservation(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="1500", **backends)
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "2", "--day-limit", "100")
    body = json.dumps({"prompt": "abandoned", "model": "dall-e-2", "n": 2, "size": "256x256"}).encode()
    raw = (f"POST {GEN} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", stack.http_port)) as sock:
        sock.sendall(raw)
        time.sleep(0.5)
    time.sleep(0.5)
    again = stack.post(GEN, {"prompt": "again", "model": "dall-e-2", "n": 2, "size": "256x256"}, key=key)
    assert again.status == 200, again.body
    usage = stack.get("/v1/usage", key=key).json()["totals"]
    assert (usage["requests"], usage["failed_requests"], usage["images"]) == (2, 1, 2)


def test_100_concurrent_requests_never_exceed_a_spend_cap(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "10000", "--day-limit", "10000",
                           "--monthly-cap-usd", "1.00")
    replies = fire([(stack.base_url + GEN, {"prompt": f"p{i}", "model": "dall-e-3"}) for i in range(100)], key)
    spent = sum(round(r.body["perf"]["cost_usd"] * 1_000_000) for r in replies if r.status == 200)
    assert spent == 1_000_000  # 25 × $0.04, not a cent more
    assert sum(1 for r in replies if r.status == 200) == 25
    for reply in (r for r in replies if r.status != 200):
        assert reply.status == 429
        assert "spend cap" in reply.body["error"]["message"]
    assert_ledger_matches(stack, key, replies)


def test_usage_api_reports_days_and_models(stack: Stack) -> None:
    key = stack.create_key("test")
    for body in ({"prompt": "a", "model": "flux-dev", "n": 2}, {"prompt": "b", "model": "dall-e-3", "quality": "hd"},
                 {"prompt": "c", "model": "dall-e-3", "n": 5}):
        stack.post(GEN, body, key=key)
    usage = stack.get("/v1/usage", key=key)
    assert usage.status == 200
    body = usage.json()
    assert body["object"] == "usage" and body["mode"] == "test"
    assert body["totals"] == {"requests": 3, "failed_requests": 1, "images": 3, "cost_usd": 0.13, "billed_usd": 0.0}
    [day] = body["days"]
    assert day["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert {m["model"]: m["images"] for m in body["models"]} == {"dall-e-3": 1, "flux-dev": 2}
    assert stack.get("/v1/usage?start=2020-01-01&end=2020-01-31", key=key).json()["totals"]["requests"] == 0
    for query, param in (("start=yesterday", "start"), ("start=2026-02-30", "start"), ("start=2021-01-01&end=2020-01-01", "start"),
                         ("start=2020-01-01&end=2022-01-01", "start"), ("colour=red", "colour")):
        bad = stack.get(f"/v1/usage?{query}", key=key)
        assert bad.status == 400, query
        assert bad.json()["error"]["param"] == param
    assert stack.get("/v1/usage").status == 401


def test_rotation_keeps_the_record_and_kills_the_old_secret(stack: Stack) -> None:
    created = stack.keys_command("create", "--mode", "test", "--tier", "pro").stdout.decode().splitlines()
    old, key_id = created[-1], created[0].split()[1]
    assert stack.post(GEN, {"prompt": "p"}, key=old).status == 200
    rotated = stack.keys_command("rotate", key_id)
    assert rotated.returncode == 0
    new = rotated.stdout.decode().splitlines()[-1]
    assert stack.post(GEN, {"prompt": "p"}, key=old).status == 401
    response = stack.post(GEN, {"prompt": "p"}, key=new)
    assert response.status == 200
    assert response.headers["x-ratelimit-limit-images-minute"] == "30"  # pro tier, same record
    assert stack.get("/v1/usage", key=new).json()["totals"]["requests"] == 2


def test_admin_usage_report_separates_live_and_test(stack: Stack) -> None:
    report = stack.keys_command  # same environment, another admin module
    done = __import__("subprocess").run([__import__("sys").executable, "-m", "server.accounting", "usage"],
                                        cwd=stack.env["PYTHONPATH"].split(":")[-1], env=stack.env, capture_output=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[1].split("\t")[0] == "scope"
    live, test = lines[2].split("\t"), lines[3].split("\t")
    assert live[0] == "live" and test[0] == "test"
    assert int(test[1]) > 0 and float(test[5]) == 0.0
    assert report is not None


def test_upstream_failure_releases_the_reservation_and_live_usage_is_billed(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.upstreams import Upstreams

    with Upstreams() as upstreams:
        stack = make_stack(**upstreams.env(), **backends)
        key = stack.create_key("live", "--tier", "enterprise", "--minute-limit", "1", "--day-limit", "100",
                               "--monthly-cap-usd", "0.04")
        upstreams["openai"].knobs.fail_after_charge_next = 1
        failed = stack.post(GEN, {"prompt": "p", "model": "dall-e-3"}, key=key)
        assert failed.status == 502, failed.body
        # Both the image and the money reservation came back: the only image the minute allows, at the cap.
        ok = stack.post(GEN, {"prompt": "p", "model": "dall-e-3"}, key=key)
        assert ok.status == 200, ok.body
        usage = stack.get("/v1/usage", key=key).json()
        assert usage["mode"] == "live"
        assert usage["totals"] == {"requests": 2, "failed_requests": 1, "images": 1, "cost_usd": 0.04,
                                   "billed_usd": 0.04}


def test_shutdown_past_the_grace_still_writes_the_ledger_and_frees_the_money(make_stack) -> None:  # type: ignore[no-untyped-def]
    import signal
    import sqlite3
    import threading

    stack = make_stack(PERF_SANDBOX_LATENCY_MS="3000", PERF_SHUTDOWN_GRACE_SECONDS="0.5")
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "100", "--day-limit", "100",
                           "--monthly-cap-usd", "1")
    worker = threading.Thread(target=lambda: stack.post(GEN, {"prompt": "cut off"}, key=key))
    worker.start()
    time.sleep(0.5)
    stack.server.send_signal(signal.SIGTERM)
    assert stack.server.wait(timeout=15) == 0
    worker.join(timeout=10)
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        rows = db.execute("SELECT status, error_type, cost_micros FROM usage_ledger").fetchall()
        spend = db.execute("SELECT spent_micros, reserved_micros FROM spend_months").fetchall()
        holds = db.execute("SELECT count(*) FROM spend_holds").fetchone()[0]
    assert rows == [("error", "cancelled", 0)]
    assert spend == [(0, 0)] and holds == 0


def test_a_repeated_request_id_never_costs_a_ledger_row(stack: Stack, test_key: str) -> None:
    import asyncio

    import grpc

    from perf.images.v1 import image_service_pb2 as pb
    from perf.images.v1 import image_service_pb2_grpc as pb_grpc

    key = stack.create_key("test")
    repeated = "req_img_" + "R" * 24

    async def twice() -> None:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            for _ in range(2):
                await pb_grpc.ImageServiceStub(channel).GenerateImages(
                    pb.GenerateImagesRequest(prompt="p", model="dall-e-2", size="256x256"), timeout=10,
                    metadata=(("authorization", f"Bearer {key}"), ("x-request-id", repeated)))

    asyncio.run(twice())
    assert stack.get("/v1/usage", key=key).json()["totals"]["requests"] == 2


def test_limiter_outage_is_503_and_not_ready(make_stack) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stack = make_stack(ready_path="/healthz", PERF_REDIS_URL="redis://127.0.0.1:1/0",
                       PERF_HEALTH_INTERVAL_SECONDS="0.2")
    response = stack.post(GEN, {"prompt": "p"}, key=stack.first_key)
    assert response.status == 503, response.body
    assert response.json()["error"]["type"] == "provider_unavailable"
    assert "rate limiter" in response.json()["error"]["message"]

    async def status() -> int:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="perf.images.v1.ImageService"), timeout=2)
            return reply.status

    deadline = time.monotonic() + 5
    while asyncio.run(status()) != health_pb2.HealthCheckResponse.NOT_SERVING and time.monotonic() < deadline:
        time.sleep(0.1)
    assert asyncio.run(status()) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert stack.get("/readyz").status == 503
