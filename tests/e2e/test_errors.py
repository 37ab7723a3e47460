"""Every error this part of the system can produce, through the gateway, in the documented format."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.stack import Stack, http

GEN = "/v1/images/generations"


def error_of(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_img_")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"type", "message", "param", "retry_after"}
    return body["error"]


@pytest.mark.parametrize(("body", "param", "fragment"), [
    ({}, "prompt", "prompt is required"),
    ({"prompt": "   "}, "prompt", "prompt is required"),
    ({"prompt": "x" * 4001}, "prompt", "at most 4000"),
    ({"prompt": "bell \x07"}, "prompt", "U+0007"),
    ({"prompt": "hidden \u202e text"}, "prompt", "U+202E"),
    ({"prompt": "p", "n": 2}, "n", "between 1 and 1"),
    ({"prompt": "p", "model": "dall-e-2", "n": 11}, "n", "between 1 and 10"),
    ({"prompt": "p", "model": "dall-e-2", "n": 0}, "n", "between 1 and 10"),
    ({"prompt": "p", "n": "2"}, "n", "integer"),
    ({"prompt": "p", "n": 1.5}, "n", "integer"),
    ({"prompt": "p", "n": True}, "n", "integer"),
    ({"prompt": "p", "n": 2**40}, "n", "out of range"),
    ({"prompt": "p", "size": "512x512"}, "size", "1024x1024, 1792x1024, 1024x1792"),
    ({"prompt": "p", "size": "big"}, "size", "must be one of"),
    ({"prompt": "p", "model": "flux-dev", "size": "10x5000"}, "size", "between 64 and 4096"),
    ({"prompt": "p", "model": "imagen-3", "size": "1920x1080"}, "size", "must be one of 1024x1024 for imagen-3"),
    ({"prompt": "p", "model": "dall-e-2", "quality": "hd"}, "quality", "standard"),
    ({"prompt": "p", "quality": "ultra"}, "quality", "standard, hd"),
    ({"prompt": "p", "model": "flux-pro", "style": "vivid"}, "style", "not supported"),
    ({"prompt": "p", "style": "baroque"}, "style", "vivid, natural"),
    ({"prompt": "p", "response_format": "png"}, "response_format", "url, b64_json"),
    ({"prompt": "p", "user": "u" * 257}, "user", "256"),
    ({"prompt": "p", "user": "end\x85user"}, "user", "control characters"),
    ({"prompt": "p", "model": 3}, "model", "string"),
    ({"prompt": ["p"]}, "prompt", "string"),
    ({"prompt": "p", "colour": "red"}, "colour", "Unknown parameter"),
    ({"prompt": "p", "quality": "hd", "max_cost_per_call": 0.05}, "max_cost_per_call", "above max_cost_per_call"),
    ({"prompt": "p", "max_cost_per_call": "cheap"}, "max_cost_per_call", "number"),
])
def test_invalid_request_names_the_param(stack: Stack, test_key: str, body: dict, param: str, fragment: str) -> None:
    error = error_of(stack.post(GEN, body, key=test_key), 400)
    assert error["type"] == "invalid_request"
    assert error["param"] == param
    assert fragment in error["message"]


def test_budget_equal_to_price_passes(stack: Stack, test_key: str) -> None:
    response = stack.post(GEN, {"prompt": "p", "quality": "hd", "max_cost_per_call": 0.08}, key=test_key)
    assert response.status == 200, response.body


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"[" * 20_000, b'{"prompt": "\\ud800"}',
                                 b'{"prompt": "a", "n": 1e999}'])
def test_malformed_bodies_are_400_not_500(stack: Stack, test_key: str, raw: bytes) -> None:
    error = error_of(stack.post(GEN, raw, key=test_key), 400)
    assert error["type"] == "invalid_request"


def test_body_over_limit_is_413(stack: Stack, test_key: str) -> None:
    error = error_of(stack.post(GEN, {"prompt": "x" * 70_000}, key=test_key), 413)
    assert error["type"] == "invalid_request"
    assert "exceeds" in error["message"]


def test_unknown_model_is_404(stack: Stack, test_key: str) -> None:
    error = error_of(stack.post(GEN, {"prompt": "p", "model": "midjourney"}, key=test_key), 404)
    assert error == {"type": "not_found", "message": "The model 'midjourney' does not exist", "param": "model"}


def test_unknown_route_and_method_are_json(stack: Stack, test_key: str) -> None:
    assert error_of(stack.get("/v1/nothing", key=test_key), 404)["type"] == "not_found"
    assert error_of(http("DELETE", stack.base_url + "/v1/models"), 405)["type"] == "invalid_request"


def test_every_authentication_failure_looks_the_same(stack: Stack, test_key: str) -> None:
    created = stack.keys_command("create", "--mode", "test", "--name", "to revoke").stdout.decode().splitlines()
    revoked, key_id = created[-1], created[0].split()[1]
    assert stack.post(GEN, {"prompt": "p"}, key=revoked).status == 200
    assert stack.keys_command("revoke", key_id).returncode == 0
    listing = stack.keys_command("list").stdout.decode()
    assert revoked not in listing and "revoked" in listing
    unknown = "pk_test_" + "A" * 40
    wrong_mode = "pk_live_" + test_key[len("pk_test_"):]
    attempts = {
        "missing": None, "malformed": "not-a-key", "short": "pk_test_abc", "unknown": unknown,
        "revoked": revoked, "wrong mode prefix": wrong_mode,
    }
    bodies = set()
    for name, key in attempts.items():
        response = stack.post(GEN, {"prompt": "p"}, key=key)
        error = error_of(response, 401)
        assert error["type"] == "authentication_error", name
        assert response.headers["www-authenticate"] == "Bearer"
        bodies.add(response.body)
    assert len(bodies) == 1
    assert error_of(stack.get("/v1/models"), 401)["type"] == "authentication_error"
    basic = http("POST", stack.base_url + GEN, {"prompt": "p"}, {"Authorization": f"Basic {test_key}"})
    assert error_of(basic, 401)["type"] == "authentication_error"
    accented = http("POST", stack.base_url + GEN, {"prompt": "p"},
                    {"Authorization": "Bearer pk_test_\u00e9\u00e9".encode().decode("latin-1")})
    assert error_of(accented, 401)["type"] == "authentication_error"


def test_live_key_without_provider_is_503_naming_the_variable(stack: Stack) -> None:
    live = stack.create_key("live")
    for model, variable in [("dall-e-3", "OPENAI_API_KEY"), ("stable-diffusion-3", "STABILITY_API_KEY"),
                            ("flux-pro", "BFL_API_KEY"), ("ideogram-2", "IDEOGRAM_API_KEY"),
                            ("imagen-3", "GEMINI_API_KEY")]:
        error = error_of(stack.post(GEN, {"prompt": "p", "model": model}, key=live), 503)
        assert error["type"] == "provider_unavailable"
        assert variable in error["message"]


def test_bad_input_changes_nothing(stack: Stack, test_key: str) -> None:
    images = stack.data_dir / "images"
    before = sorted(os.listdir(images))
    for body in ({"prompt": "p", "n": 5}, {"prompt": "p", "size": "1x1"}, {"prompt": ""}, {"prompt": "p", "x": 1}):
        assert stack.post(GEN, body, key=test_key).status == 400
    assert sorted(os.listdir(images)) == before


def test_deadline_is_504_timeout(make_stack) -> None:  # type: ignore[no-untyped-def]
    slow = make_stack(PERF_SANDBOX_LATENCY_MS="3000", PERF_REQUEST_TIMEOUT_SECONDS="0.5")
    started = time.monotonic()
    error = error_of(slow.post(GEN, {"prompt": "p"}, key=slow.first_key), 504)
    assert error["type"] == "timeout"
    assert time.monotonic() - started < 2.5


def test_response_over_gateway_message_limit_is_502_not_429(make_stack) -> None:  # type: ignore[no-untyped-def]
    small = make_stack(PERF_MAX_MESSAGE_BYTES="50000")
    response = small.post(GEN, {"prompt": "p", "model": "dall-e-2", "n": 4, "response_format": "b64_json"},
                          key=small.first_key)
    error = error_of(response, 502)
    assert error["type"] == "upstream_error"
    assert response.headers["x-should-retry"] == "false"
    assert "retry-after" not in response.headers


def test_backend_down_is_503_and_not_ready(make_stack) -> None:  # type: ignore[no-untyped-def]
    lonely = make_stack()
    assert lonely.server is not None
    lonely.server.send_signal(signal.SIGKILL)
    lonely.server.wait()
    error = error_of(lonely.post(GEN, {"prompt": "p"}, key=lonely.first_key), 503)
    assert error["type"] == "provider_unavailable"
    assert lonely.get("/readyz").status == 503
    assert lonely.get("/healthz").status == 200
