"""The OpenAPI document itself (gateway/openapi.json): valid OpenAPI 3.1, in step with the code it describes.

A route added to the gateway without an entry in the document fails here, as does a body field the
gateway accepts but the document does not name (or the other way round), an error type missing from
the document's enum, or an example that does not validate against its own schema. What the gateway
answers is checked against the document by tests/openapi_check.py and the schemathesis run.
"""
from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

# The OpenAPI 3.1 meta-schema as schemathesis ships it (the one it checks documents with).
from schemathesis.specs.openapi.definitions import OPENAPI_31

from contract.errors import ERROR_KINDS
from gateway import admin_translate, forms, jobs, translate
from gateway.app import build_app
from gateway.config import GatewaySettings
from gateway.openapi import load_document
from tests import openapi_check

DOCUMENT = openapi_check.document()


def schema_properties(name: str) -> set[str]:
    return set(DOCUMENT["components"]["schemas"][name]["properties"])


def query_names(path: str) -> set[str]:
    parameters = DOCUMENT["paths"][path]["get"].get("parameters", [])
    resolved = [openapi_check._resolve(p)[0] for p in parameters]
    return {p["name"] for p in resolved if p["in"] == "query"}


def test_the_document_is_valid_openapi_3_1() -> None:
    errors = [f"/{'/'.join(map(str, e.instance_path))}: {e.message[:200]}"
              for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(DOCUMENT)]
    assert errors == []
    assert DOCUMENT["openapi"] == "3.1.0"


def test_the_documented_routes_are_exactly_the_registered_ones() -> None:
    app = build_app(GatewaySettings())
    registered = {(route.method, route.resource.canonical) for route in app.router.routes()
                  if route.resource is not None}
    # aiohttp adds HEAD beside every GET (the same answer without a body); the document lists the GET.
    registered -= {("HEAD", path) for method, path in registered if method == "GET"}
    documented = {(method.upper(), path) for path, item in DOCUMENT["paths"].items()
                  for method in item if method in openapi_check.METHODS}
    assert registered == documented


def test_request_bodies_and_queries_name_exactly_what_the_gateway_accepts() -> None:
    assert schema_properties("ImageGenerationRequest") == translate.GENERATION_FIELDS
    assert schema_properties("ImageEditRequest") == forms.EDIT_TEXT | forms.FILE_FIELDS
    assert schema_properties("ImageVariationRequest") == forms.VARIATION_TEXT | {"image"}
    # A job takes the synchronous request plus where to say it has finished.
    assert schema_properties("ImageJobGenerationRequest") == translate.GENERATION_FIELDS | {"webhook_url"}
    assert schema_properties("ImageJobEditRequest") == forms.EDIT_TEXT | forms.FILE_FIELDS | {"webhook_url"}
    assert schema_properties("CreateKeyRequest") == admin_translate.CREATE_FIELDS
    assert schema_properties("UpdateKeyRequest") == admin_translate.UPDATE_FIELDS
    assert query_names("/v1/usage") == translate.USAGE_PARAMS
    assert query_names("/v1/images/jobs") == jobs.LIST_PARAMS
    assert query_names("/admin/v1/usage") == admin_translate.USAGE_PARAMS
    assert query_names("/admin/v1/generations") == admin_translate.GENERATION_PARAMS
    assert query_names("/admin/v1/audit") == admin_translate.AUDIT_PARAMS


def test_the_error_types_are_the_contract_table() -> None:
    assert DOCUMENT["components"]["schemas"]["ErrorType"]["enum"] == list(ERROR_KINDS)


def _examples(node: Any, pointer: str) -> list[tuple[str, Any]]:
    """Every (schema pointer, example value) under a media type object or parameter, recursively."""
    found = []
    if isinstance(node, dict):
        if "schema" in node and ("example" in node or "examples" in node):
            values = [node["example"]] if "example" in node else [e["value"] for e in node["examples"].values()]
            found += [(f"{pointer}/schema", value) for value in values]
        for key, child in node.items():
            if key not in ("schema", "example", "examples"):
                found += _examples(child, f"{pointer}/{openapi_check._escape(str(key))}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _examples(child, f"{pointer}/{index}")
    return found


EXAMPLES = (_examples(DOCUMENT["paths"], "#/paths") + _examples(DOCUMENT["webhooks"], "#/webhooks")
            + _examples(DOCUMENT["components"]["responses"], "#/components/responses"))


def test_there_are_examples_including_the_seeds() -> None:
    values = [value for _, value in EXAMPLES]
    assert len(EXAMPLES) >= 15
    # The seed document's request, its success response, and its three error responses.
    assert any(isinstance(v, dict) and v.get("prompt", "").startswith("A serene Japanese garden") for v in values)
    assert any(isinstance(v, dict) and v.get("perf", {}).get("request_id") == "req_img_abc123" for v in values)
    seed_errors = {"prompt is required", "Your request was rejected as a result of our safety system.",
                   "Rate limit exceeded for image generation"}
    assert seed_errors <= {v["error"]["message"] for v in values if isinstance(v, dict) and "error" in v}


@pytest.mark.parametrize(("pointer", "value"), EXAMPLES, ids=[pointer for pointer, _ in EXAMPLES])
def test_every_example_validates_against_its_schema(pointer: str, value: Any) -> None:
    openapi_check._validate("example", pointer, value)


def test_served_document_names_this_gateway_as_its_server() -> None:
    served = load_document("https://images.example.com/")
    assert served["servers"] == [{"url": "https://images.example.com", "description": "this gateway"}]
    assert {k: v for k, v in served.items() if k != "servers"} == {k: v for k, v in DOCUMENT.items()
                                                                  if k != "servers"}


def test_the_checker_refuses_what_the_document_does_not_promise() -> None:
    """The hook in tests/stack.py must be able to fail: each of these breaks one promise."""
    ok = {"x-request-id": "req_1", "content-type": "application/json"}
    openapi_check.check_response("GET", "/healthz", 200, ok, b'{"status":"ok"}')
    perf = {"request_id": "req_1", "model_used": "gpt-image-2", "size": "1024x1024", "quality": "high",
            "cost_usd": 0.167, "latency_ms": 9}
    common = {"b64_json": "iVBORw0KGgo=", "created_at": 1, "size": "1024x1024", "quality": "high",
              "background": "opaque", "output_format": "png"}
    stream = b"".join(b"event: " + kind.encode() + b"\ndata: " + json.dumps({"type": kind, **common, **extra}).encode()
                      + b"\n\n" for kind, extra in (("image_generation.partial_image", {"partial_image_index": 0}),
                                                     ("image_generation.completed", {"perf": perf})))
    sse = {**ok, "content-type": "text/event-stream; charset=utf-8"}
    openapi_check.check_response("POST", "/v1/images/generations", 200, sse, stream)
    breaks = [
        ("GET", "/healthz", 200, ok, b'{"status":"fine"}'),  # body off-schema
        ("GET", "/healthz", 200, {"content-type": "application/json"}, b'{"status":"ok"}'),  # no request id
        ("GET", "/healthz", 201, ok, b'{"status":"ok"}'),  # status not documented
        ("GET", "/healthz", 200, {**ok, "content-type": "text/plain"}, b"ok"),  # media type not documented
        ("GET", "/nowhere", 200, ok, b"{}"),  # no such path, yet not a refusal
        ("GET", "/nowhere", 404, ok, b'{"detail":"Not Found"}'),  # a refusal not in the error shape
        ("POST", "/v1/images/generations", 200, sse, stream.replace(b"event: image_generation.completed",
                                                                     b"event: image_edit.completed")),
        ("POST", "/v1/images/generations", 200, sse, stream.replace(b'"perf"', b'"cost"')),
        ("POST", "/v1/images/generations", 200, sse, stream[:-1]),  # the last frame cut short
    ]
    for method, path, status, headers, body in breaks:
        with pytest.raises(openapi_check.ContractViolation):
            openapi_check.check_response(method, path, status, headers, body)


def test_the_webhook_checker_refuses_what_the_document_does_not_promise() -> None:
    """tests/e2e/test_webhooks.py holds every delivery to the `webhooks` section: it must be able to fail."""
    operation = DOCUMENT["webhooks"]["imageJobFinished"]["post"]
    event = operation["requestBody"]["content"]["application/json"]["example"]
    headers = {p["name"]: p["example"] for p in operation["parameters"]} | {"Content-Type": "application/json"}
    openapi_check.check_webhook("imageJobFinished", headers, json.dumps(event).encode())
    hook = {"url": "https://example.com/h", "status": "delivered", "attempts": 1, "last_status": 200}
    breaks = [
        ({k: v for k, v in headers.items() if k != "webhook-id"}, event),  # no webhook-id
        ({**headers, "webhook-signature": "sha256=abc"}, event),  # not a Standard Webhooks signature
        ({**headers, "Content-Type": "text/plain"}, event),
        (headers, {**event, "type": "image.job.queued"}),
        (headers, {**event, "data": {**event["data"], "webhook": hook}}),  # its own delivery state
        (headers, {**event, "data": {**event["data"], "status": "running", "completed_at": None}}),
        (headers, {**event, "data": {k: v for k, v in event["data"].items() if k != "perf"}}),  # succeeded, no perf
    ]
    for broken_headers, body in breaks:
        with pytest.raises(openapi_check.ContractViolation):
            openapi_check.check_webhook("imageJobFinished", broken_headers, json.dumps(body).encode())
