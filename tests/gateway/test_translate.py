"""Gateway translations as pure functions: public JSON → proto, proto → public JSON, status → error."""
from __future__ import annotations

import base64

import grpc
import orjson
import pytest
from grpc.aio import AioRpcError, Metadata

from gateway.errors import from_rpc_error
from gateway.translate import BadRequest, generation_request, generation_response, parse_json_object
from perf.images.v1 import image_service_pb2 as pb
from server.errors import ContentPolicyViolation, InternalError, ProviderUnavailable


def rpc_error(code: grpc.StatusCode, details: str = "", trailing: tuple = ()) -> AioRpcError:  # type: ignore[type-arg]
    return AioRpcError(code, Metadata(), Metadata(*trailing), details)


def from_domain(error: Exception) -> AioRpcError:
    status = error.to_status()  # type: ignore[attr-defined]
    return rpc_error(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == status.code)), status.message,
                     (("grpc-status-details-bin", status.SerializeToString()),))


def test_null_means_default_and_presence_is_kept() -> None:
    request, stream = generation_request({"prompt": "p", "model": None, "n": 2, "quality": "hd"})
    assert not stream
    assert not request.HasField("model")
    assert request.n == 2 and request.HasField("quality")


def test_created_and_latency_are_json_integers() -> None:
    response = pb.GenerateImagesResponse(created=1706123456, data=[pb.Image(url="u", revised_prompt="r")],
                                         perf=pb.Perf(request_id="req_img_a", model_used="dall-e-3",
                                                      size="1024x1024", quality="hd", cost_usd=0.08, latency_ms=5234))
    assert orjson.loads(b"".join(generation_response(response))) == {
        "created": 1706123456, "data": [{"url": "u", "revised_prompt": "r"}],
        "perf": {"request_id": "req_img_a", "model_used": "dall-e-3", "size": "1024x1024", "quality": "hd",
                 "cost_usd": 0.08, "latency_ms": 5234}}


def test_inline_images_are_base64_encoded_once_between_the_json_pieces() -> None:
    images = [bytes(range(256)) * 40, b"\x89PNG second"]
    # A revised prompt that looks like the splice marker must stay text (the marker is unguessable).
    response = pb.GenerateImagesResponse(created=1, data=[pb.Image(data=images[0], revised_prompt="perf-image-0"),
                                                          pb.Image(data=images[1], revised_prompt='"}],')],
                                         perf=pb.Perf(request_id="req_img_b"))
    parts = generation_response(response)
    assert len(parts) == 5  # json, image, json, image, json
    body = orjson.loads(b"".join(parts))
    assert [base64.b64decode(item["b64_json"]) for item in body["data"]] == images
    assert [item["revised_prompt"] for item in body["data"]] == ["perf-image-0", '"}],']


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"[]", b"1", b"[" * 5000 + b"]" * 5000])
def test_bad_json_is_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_json_object(raw)


@pytest.mark.parametrize(("error", "status", "type_"), [
    (ContentPolicyViolation("Your request was rejected as a result of our safety system."), 400,
     "content_policy_violation"),
    (ProviderUnavailable("set OPENAI_API_KEY", retry_after=3), 503, "provider_unavailable"),
    (InternalError("internal error (request req_img_a)"), 500, "internal_error"),
])
def test_rich_status_maps_by_error_info(error: Exception, status: int, type_: str) -> None:
    public = from_domain(error)
    mapped = from_rpc_error(public, "req_img_a")
    assert (mapped.status, mapped.type) == (status, type_)
    assert mapped.message == str(error)


@pytest.mark.parametrize(("code", "status", "type_"), [
    (grpc.StatusCode.UNAVAILABLE, 503, "provider_unavailable"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "timeout"),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 502, "upstream_error"),
    (grpc.StatusCode.UNKNOWN, 500, "internal_error"),
    (grpc.StatusCode.INTERNAL, 500, "internal_error"),
])
def test_library_statuses_map_by_code_and_never_leak_text(code: grpc.StatusCode, status: int, type_: str) -> None:
    mapped = from_rpc_error(rpc_error(code, "Exception calling application: secret"), "req_img_a")
    assert (mapped.status, mapped.type) == (status, type_)
    assert "secret" not in mapped.message
    assert mapped.retry_after is None


def test_garbage_details_trailer_is_internal_not_a_crash() -> None:
    mapped = from_rpc_error(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "x",
                                      (("grpc-status-details-bin", b"\xff\xff garbage"),)), "req_img_a")
    assert mapped.status == 500
