"""A Redis that answers but refuses service (protected mode, out of memory, a read-only replica) is an outage.

Found by running compose by hand: a Redis in protected mode answers every connection from another
container with `-DENIED …`. That is the operator's configuration, not our bug, so callers get 503
provider_unavailable (retryable) and readiness goes NOT_SERVING, and the server's log says why.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.stack import Stack

GEN = "/v1/images/generations"
DENIED = b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n"


@pytest.fixture()
def refusing_redis() -> Iterator[int]:
    """A port where every connection gets one Redis error reply, then is closed (as protected mode does)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(DENIED)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    thread.join()
    listener.close()


def test_a_refusing_redis_is_503_not_ready_and_logged_with_its_reason(make_stack, refusing_redis: int) -> None:  # type: ignore[no-untyped-def]
    stack: Stack = make_stack(ready_path="/healthz", PERF_REDIS_URL=f"redis://127.0.0.1:{refusing_redis}/0",
                              PERF_HEALTH_INTERVAL_SECONDS="0.2")
    response = stack.post(GEN, {"prompt": "p"}, key=stack.first_key)
    assert response.status == 503, response.body
    assert response.json()["error"]["type"] == "provider_unavailable"
    assert "rate limiter" in response.json()["error"]["message"]
    deadline = time.monotonic() + 10
    while stack.get("/readyz").status != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.get("/readyz").status == 503
    # The reason reaches the log (redis-py's repr of the error, "server:ResponseError", would not say it).
    assert "reporting NOT_SERVING: ResponseError: DENIED Redis is running in protected mode" in stack.server_log()
