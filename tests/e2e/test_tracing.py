"""Traces and JSON logs over real processes: a live-key request through the gateway, the server and the
fake BFL upstream (submit, polls, download) is one trace, and each process writes one JSON object per
log line with the request's access fields."""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.server import FakeServer
from tests.fakes.upstreams import Upstreams
from tests.otlp_receiver import ReceivedSpan, Receiver
from tests.stack import Stack

GEN = "/v1/images/generations"
# The spans each process ends last for a request: waiting for these, the rest have arrived too.
SERVER_SPANS = {("perf-gateway", "server"), ("perf-server", "server")}
BODY = {"prompt": "a lighthouse at dusk", "model": "flux-pro", "size": "1024x1024"}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Receiver]]:
    received = Receiver()
    with FakeServer(received.app()) as otlp_url, Upstreams(("bfl",)) as upstreams:
        stack = Stack(tmp_path_factory.mktemp("traced"), env_overrides={
            **upstreams.env(), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url, "OTEL_BSP_SCHEDULE_DELAY": "100",
            "PERF_LOG_FORMAT": "json", "PERF_ACCESS_LOG": "1"})
        try:
            yield stack.start(), received
        finally:
            stack.stop()


def test_one_trace_spans_gateway_server_and_every_upstream_call(traced: tuple[Stack, Receiver]) -> None:
    stack, receiver = traced
    key = stack.create_key("live")
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    response = stack.post(GEN, BODY, key, headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
    assert response.status == 200, response.body
    spans = receiver.wait_for(trace_id, SERVER_SPANS)
    by_service = {service: [s for s in spans if s.service == service] for service in ("perf-gateway", "perf-server")}
    [gateway] = [s for s in by_service["perf-gateway"] if s.kind == "server"]
    assert gateway.parent_id == caller_span  # the caller's traceparent was honoured
    assert gateway.attributes["http.route"] == GEN
    assert gateway.attributes["perf.request_id"] == response.headers["x-request-id"]
    [rpc] = [s for s in by_service["perf-server"] if s.kind == "server"]
    assert rpc.parent_id == gateway.span_id and rpc.name == "perf.server/GenerateImages"
    assert rpc.attributes["perf.provider"] == "bfl"
    upstream = [s for s in by_service["perf-server"] if s.kind == "client"]
    # BFL: the submit, at least one poll, and the download of the result, each under the RPC's span.
    assert {s.attributes["http.request.method"] for s in upstream} == {"POST", "GET"}
    assert len(upstream) >= 3
    assert all(s.parent_id == rpc.span_id for s in upstream)
    assert all("?" not in str(s.attributes["url.path"]) for s in upstream)


def test_a_request_without_traceparent_starts_its_own_trace(traced: tuple[Stack, Receiver]) -> None:
    stack, receiver = traced
    response = stack.post(GEN, {**BODY, "model": "nope"}, stack.create_key("test"))
    assert response.status == 404
    request_id = response.headers["x-request-id"]
    gateway = _span_with_request_id(receiver, request_id)
    assert gateway.parent_id == ""
    spans = receiver.wait_for(gateway.trace_id, SERVER_SPANS)
    [rpc] = [s for s in spans if s.service == "perf-server"]
    assert rpc.parent_id == gateway.span_id


def _span_with_request_id(receiver: Receiver, request_id: str) -> ReceivedSpan:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [s for s in list(receiver.spans) if s.attributes.get("perf.request_id") == request_id
                 and s.service == "perf-gateway"]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no gateway span for {request_id}")


def _json_lines(path: Path) -> list[dict[str, object]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be one JSON object


def test_json_logs_carry_each_requests_access_fields(traced: tuple[Stack, Receiver]) -> None:
    stack, _ = traced
    key = stack.create_key("live")
    response = stack.post(GEN, BODY, key)
    assert response.status == 200, response.body
    request_id = response.headers["x-request-id"]
    [rpc] = [line for line in _json_lines(stack.data_dir / "server.log")
             if line.get("request_id") == request_id and line.get("event") == "rpc"]
    assert rpc["method"] == "GenerateImages" and rpc["outcome"] == "OK" and str(rpc["key_id"]).startswith("key_")
    assert rpc["model"] == "flux-pro" and rpc["provider"] == "bfl" and rpc["images"] == 1
    assert isinstance(rpc["ms"], float) and isinstance(rpc["upstream_ms"], float) and isinstance(rpc["own_ms"], float)
    assert 0 < rpc["upstream_ms"] <= rpc["ms"]
    assert rpc["level"] == "INFO" and rpc["logger"] == "perf.server"
    [http] = [line for line in _json_lines(stack.data_dir / "gateway.log")
              if line.get("request_id") == request_id and line.get("event") == "http"]
    assert http["route"] == GEN and http["status"] == 200 and http["error_type"] == "" and http["ms"] >= rpc["ms"]
