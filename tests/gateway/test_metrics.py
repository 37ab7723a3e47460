"""The gateway's GET /metrics over a real socket: requests by route template, status and error type,
with paths never becoming label values; and each of several gateways gets a metrics port of its own."""
from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import build_app
from gateway.config import GatewaySettings
from scripts.run_local import gateway_envs
from tests.stack import free_port


async def drive(settings: GatewaySettings, paths: list[tuple[str, str]], metrics_port: int | None = None) -> str:
    runner = web.AppRunner(build_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            for method, path in paths:
                async with session.request(method, f"http://127.0.0.1:{port}{path}") as reply:
                    await reply.read()
            url = f"http://127.0.0.1:{metrics_port or port}/metrics"
            async with session.get(url) as reply:
                assert reply.status == 200
                return await reply.text()
    finally:
        await runner.cleanup()


def requests_counted(text: str) -> dict[tuple[str, str, str, str], float]:
    return {(s.labels["route"], s.labels["method"], s.labels["status"], s.labels["error_type"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "perf_gateway_requests_total"}


def test_requests_by_route_template_status_and_error_type() -> None:
    # No server behind it: every RPC fails as the backend being unavailable.
    settings = GatewaySettings(grpc_target=f"127.0.0.1:{free_port()}")
    text = asyncio.run(drive(settings, [
        ("GET", "/healthz"), ("GET", "/v1/models/some-model-a-caller-typed"), ("GET", "/v1/models/another"),
        ("GET", "/no/such/path/img_secret"), ("DELETE", "/healthz"), ("PROPFIND", "/healthz")]))
    counted = requests_counted(text)
    assert counted[("/healthz", "GET", "200", "")] == 1
    assert counted[("/v1/models/{model}", "GET", "503", "provider_unavailable")] == 2
    assert counted[("unmatched", "GET", "404", "not_found")] == 1
    assert counted[("unmatched", "DELETE", "405", "invalid_request")] == 1
    assert counted[("unmatched", "other", "405", "invalid_request")] == 1  # a method outside the standard set
    assert "some-model-a-caller-typed" not in text and "img_secret" not in text and "PROPFIND" not in text
    durations = {s.labels["route"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
                 if s.name == "perf_gateway_request_seconds_count"}
    assert durations["/v1/models/{model}"] == 2


def test_a_gateway_serves_its_own_metrics_port_too() -> None:
    own = free_port()
    settings = GatewaySettings(grpc_target=f"127.0.0.1:{free_port()}", metrics_port=own)
    counted = requests_counted(asyncio.run(drive(settings, [("GET", "/healthz")], metrics_port=own)))
    assert counted[("/healthz", "GET", "200", "")] == 1


def test_run_local_gives_each_gateway_its_own_metrics_port() -> None:
    envs = gateway_envs({"PERF_GATEWAY_METRICS_PORT": "9200", "X": "1"}, 3)
    assert [e["PERF_GATEWAY_METRICS_PORT"] for e in envs] == ["9200", "9201", "9202"]
    assert all(e["X"] == "1" for e in envs)
    assert gateway_envs({}, 2) == [{}, {}]
