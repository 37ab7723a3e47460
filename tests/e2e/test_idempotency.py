"""Idempotency-Key: a retried generation is answered once and billed once."""
from __future__ import annotations

import threading
import time

import pytest

from tests.stack import Response, Stack

GEN = "/v1/images/generations"


def post(stack: Stack, body: dict, key: str, idem: str | None) -> Response:  # type: ignore[type-arg]
    return stack.post(GEN, body, key=key, headers={"Idempotency-Key": idem} if idem is not None else None)


def test_a_retry_replays_the_first_response_and_is_not_billed_again(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    key = stack.create_key("test")
    body = {"prompt": "once", "model": "dall-e-2", "n": 2, "size": "256x256", "response_format": "b64_json"}
    first = post(stack, body, key, '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    again = post(stack, body, key, "8e03978e-40d5-43e8-bc93-6894a57f9324")  # quoted or bare: the same key
    assert first.status == again.status == 200
    assert again.json() == first.json()
    fresh = post(stack, body, key, "another-key-123")
    assert fresh.status == 200 and fresh.json()["perf"]["request_id"] != first.json()["perf"]["request_id"]
    totals = stack.get("/v1/usage", key=key).json()["totals"]
    assert (totals["requests"], totals["failed_requests"], totals["images"]) == (3, 0, 4)
    assert totals["cost_usd"] == pytest.approx(0.032 * 2)


def test_reuse_with_other_parameters_or_while_running_is_409(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="2500")
    key = stack.create_key("test")

    def collide(body: dict, idem: str) -> tuple[Response, Response]:  # type: ignore[type-arg]
        results: list[Response] = []
        worker = threading.Thread(target=lambda: results.append(post(stack, body, key, idem)))
        worker.start()
        time.sleep(1.0)
        running = post(stack, body, key, idem)
        worker.join(timeout=15)
        return results[0], running

    # No generation of this model has finished here yet: the answer is the end of the first one's lease
    # (its deadline, the gateway's 120 s, plus a margin), not a made-up constant.
    first, running = collide({"prompt": "slow", "model": "dall-e-2"}, "slow-request-1")
    assert first.status == 200 and running.status == 409
    assert running.json()["error"]["type"] == "conflict"
    assert 100 <= int(running.headers["retry-after"]) <= 126
    # Now one took ~2.5 s: a retry 1 s into the next is told to come back when that one should be done.
    first, running = collide({"prompt": "slow again", "model": "dall-e-2"}, "slow-request-2")
    assert running.status == 409 and 1 <= int(running.headers["retry-after"]) <= 3
    assert running.json()["error"]["retry_after"] == int(running.headers["retry-after"])
    changed = post(stack, {"prompt": "different"}, key, "slow-request-1")
    assert changed.status == 409
    assert changed.json()["error"]["param"] == "Idempotency-Key"
    assert changed.headers["x-should-retry"] == "false"


def test_a_failed_request_can_be_retried_under_the_same_key(stack: Stack) -> None:
    key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "1", "--day-limit", "10")
    assert post(stack, {"prompt": "fills the minute"}, key, None).status == 200
    limited = post(stack, {"prompt": "p"}, key, "retry-after-429")
    assert limited.status == 429
    # Not stored: the same key is free to run again (here it meets the same limit, not a 409).
    assert post(stack, {"prompt": "p"}, key, "retry-after-429").status == 429


@pytest.mark.parametrize("bad", ["short", "x" * 256, "has space here", "naïve-key-123"])
def test_malformed_keys_are_400(stack: Stack, test_key: str, bad: str) -> None:
    response = stack.post(GEN, {"prompt": "p"}, key=test_key,
                          headers={"Idempotency-Key": bad.encode().decode("latin-1")})
    assert response.status == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"


def test_keys_are_scoped_to_the_api_key(stack: Stack) -> None:
    first, second = stack.create_key("test"), stack.create_key("test")
    a = post(stack, {"prompt": "mine"}, first, "shared-key-0001")
    b = post(stack, {"prompt": "yours"}, second, "shared-key-0001")
    assert a.status == b.status == 200
    assert a.json()["perf"]["request_id"] != b.json()["perf"]["request_id"]
