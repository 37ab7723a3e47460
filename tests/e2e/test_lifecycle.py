"""Process behaviour: SIGTERM drains in-flight work, a client that hangs up cancels its generation."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.stack import Response

GEN = "/v1/images/generations"


def health(target: str) -> int:
    async def check() -> int:
        async with grpc.aio.insecure_channel(target) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="perf.images.v1.ImageService"), timeout=1)
            return reply.status

    return asyncio.run(check())


def test_sigterm_finishes_in_flight_request_then_exits_zero(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="1500", PERF_DRAIN_SECONDS="0.5")
    results: list[Response] = []
    worker = threading.Thread(target=lambda: results.append(stack.post(GEN, {"prompt": "in flight"},
                                                                           key=stack.first_key)))
    worker.start()
    time.sleep(0.4)  # the request is now inside the sandbox's 1.5 s
    stack.server.send_signal(signal.SIGTERM)
    time.sleep(0.15)
    assert health(stack.grpc_target) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert stack.get("/readyz").status == 503
    worker.join(timeout=10)
    assert results and results[0].status == 200, results
    assert stack.server.wait(timeout=10) == 0
    after = stack.post(GEN, {"prompt": "too late"}, key=stack.first_key)
    assert after.status == 503
    assert after.json()["error"]["type"] == "provider_unavailable"


def test_client_disconnect_cancels_the_generation(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="3000")
    body = json.dumps({"prompt": "abandoned"}).encode()
    request = (f"POST {GEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.first_key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", stack.http_port)) as sock:
        sock.sendall(request)
        time.sleep(0.5)
    deadline = time.monotonic() + 2.0  # well before the 3 s the generation would have taken
    line = None
    while time.monotonic() < deadline and line is None:
        line = re.search(r"method=GenerateImages .* outcome=aborted_or_cancelled ms=(\d+)", stack.server_log())
        time.sleep(0.05)
    assert line, stack.server_log()
    assert int(line.group(1)) < 3000
    assert list((stack.data_dir / "images").iterdir()) == []
