"""Client mistakes that used to be 5xx (issue 7): each is now a documented 4xx naming its param, and
nothing the client sends is echoed unbounded into messages, headers or gRPC trailers."""
from __future__ import annotations

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from tests.error_shape import problems
from tests.grpc_raw import call_raw
from tests.stack import Response, Stack, http

GEN = "/v1/images/generations"


def error_of(response: Response, status: int) -> dict:  # type: ignore[type-arg]
    assert response.status == status, response.body[:300]
    assert problems(response.status, response.headers, response.body) == []
    return response.json()["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("query", "param"), [
    ("end=0001-01-01", "end"),                 # was 500: end minus 30 days left date's range
    ("start=0001-01-01&end=2026-01-01", "start"),
    ("end=1969-12-31", "end"),
    ("start=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01-01", "start"),  # fullwidth ２０２６
    ("end=2026-0%D9%A1-01", "end"),            # Arabic-Indic one
    ("end=2026-01-0%C2%B2", "end"),            # superscript two
    ("end=2026-W01-1", "end"),                 # an ISO week date: date.fromisoformat() takes it
])
def test_out_of_range_or_non_ascii_dates_are_400(stack: Stack, test_key: str, query: str, param: str) -> None:
    error = error_of(stack.get(f"/v1/usage?{query}", key=test_key), 400)
    assert (error["type"], error["param"]) == ("invalid_request", param)


def test_the_far_end_of_the_date_range_still_works(stack: Stack, test_key: str) -> None:
    assert stack.get("/v1/usage?end=9999-12-31", key=test_key).status == 200
    assert stack.get("/v1/usage?end=1970-01-01", key=test_key).status == 200


@pytest.mark.parametrize("budget", ["1e308", "1.7976931348623157e308", "1e300", "1000000.5", "-1e308"])
def test_huge_budgets_are_400_naming_the_param(stack: Stack, test_key: str, budget: str) -> None:
    raw = f'{{"prompt": "p", "max_cost_per_call": {budget}}}'
    error = error_of(stack.post(GEN, raw, key=test_key), 400)
    assert error["param"] == "max_cost_per_call"


@pytest.mark.parametrize("budget", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_budgets_are_not_json(stack: Stack, test_key: str, budget: str) -> None:
    raw = f'{{"prompt": "p", "max_cost_per_call": {budget}}}'
    assert error_of(stack.post(GEN, raw, key=test_key), 400)["type"] == "invalid_request"


def test_the_largest_budget_allowed_still_generates(stack: Stack, test_key: str) -> None:
    assert stack.post(GEN, {"prompt": "p", "max_cost_per_call": 1_000_000}, key=test_key).status == 200


@pytest.mark.parametrize("budget", [float("inf"), float("-inf"), float("nan"), 1e308, 1e6 + 1])
def test_non_finite_budgets_over_grpc_are_invalid_argument(stack: Stack, test_key: str, budget: float) -> None:
    payload = pb.GenerateImagesRequest(prompt="p", max_cost_per_call=budget).SerializeToString()
    with grpc.insecure_channel(stack.grpc_target) as channel:
        outcome = call_raw(channel, "GenerateImages", payload, test_key)
    assert (outcome.code, outcome.reason, outcome.field) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST",
                                                             "max_cost_per_call")


def test_a_9000_character_model_is_404_with_a_bounded_message(stack: Stack, test_key: str) -> None:
    # Was 502 "too large to relay": the model was echoed three times into the gRPC trailers (16 KiB cap).
    error = error_of(stack.post(GEN, {"prompt": "p", "model": "m" * 9000}, key=test_key), 404)
    assert error["param"] == "model"
    assert error["message"] == f"The model '{'m' * 64}…' does not exist"
    error = error_of(stack.get("/v1/models/" + "m" * 3000, key=test_key), 404)
    assert len(error["message"]) < 120


def test_a_9000_character_model_over_grpc_keeps_the_trailers_small(stack: Stack, test_key: str) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        for method, message in (("GetModel", pb.GetModelRequest(model="m" * 9000)),
                                ("GenerateImages", pb.GenerateImagesRequest(prompt="p", model="m" * 9000))):
            outcome = call_raw(channel, method, message.SerializeToString(), test_key)
            assert (outcome.code, outcome.field) == (grpc.StatusCode.NOT_FOUND, "model"), method
            assert outcome.trailer_bytes < 1024, method


def test_long_authorization_and_idempotency_key_are_their_usual_errors(stack: Stack, test_key: str) -> None:
    # 8,000 characters each fit aiohttp's header limit, but together passed gRPC's metadata cap: 502.
    long = "x" * 8000
    both = http("POST", stack.base_url + GEN, {"prompt": "p"},
                {"Authorization": f"Bearer {long}", "Idempotency-Key": long, "Content-Type": "application/json"})
    assert error_of(both, 401)["type"] == "authentication_error"
    key_only = stack.post(GEN, {"prompt": "p"}, key=test_key, headers={"Idempotency-Key": long})
    assert error_of(key_only, 400)["param"] == "Idempotency-Key"
    assert error_of(stack.get("/v1/models", key="pk_test_" + "a" * 8000), 401)["type"] == "authentication_error"


def test_an_offered_request_id_is_never_echoed(stack: Stack, test_key: str) -> None:
    offered = "req_img_" + "A" * 6000
    response = http("GET", stack.base_url + "/v1/models", headers={"Authorization": f"Bearer {test_key}",
                                                                   "x-request-id": offered})
    assert response.status == 200
    assert len(response.headers["x-request-id"]) == len("req_img_") + 24
    assert offered.encode() not in response.body


def test_unknown_names_are_quoted_cut_short(stack: Stack, test_key: str) -> None:
    name = "colour" * 2000
    error = error_of(stack.post(GEN, {"prompt": "p", name: 1}, key=test_key), 400)
    assert error["message"].startswith("Unknown parameter") and len(error["message"]) < 120
    assert error["param"] == name[:64] + "…"
    error = error_of(stack.get(f"/v1/usage?{name[:3000]}=1", key=test_key), 400)
    assert len(error["message"]) < 120 and len(error["param"]) <= 65
    error = error_of(stack.get("/v1/" + "n" * 3000, key=test_key), 404)
    assert len(error["message"]) < 200


@pytest.mark.parametrize("size", ["１０２４x１０２４", "1024x١٠٢٤", "1024x1024²"])
def test_non_ascii_digits_in_a_size_are_400(stack: Stack, test_key: str, size: str) -> None:
    error = error_of(stack.post(GEN, {"prompt": "p", "size": size}, key=test_key), 400)
    assert error["param"] == "size"


@pytest.mark.parametrize("content_type", [
    "multipart/form-data",                                   # was 500: no boundary (schemathesis found it)
    "multipart/form-data; boundary=" + "b" * 71,             # was 500: over aiohttp's 70 characters
    "multipart/form-data; boundary=another",                 # was 500: not the boundary the body uses
])
@pytest.mark.parametrize("path", ["/v1/images/edits", "/v1/images/variations"])
def test_a_multipart_body_without_its_boundary_is_400(stack: Stack, test_key: str, path: str,
                                                      content_type: str) -> None:
    body = b'--perfboundary\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--perfboundary--\r\n'
    reply = http("POST", stack.base_url + path, body, {"Authorization": f"Bearer {test_key}",
                                                        "Content-Type": content_type})
    assert error_of(reply, 400)["type"] == "invalid_request"
