"""The server's metrics over a plain HTTP GET of its exporter: bounded labels, USD counters, lifecycle
gauges, one registry per instance, and the README's list of metrics kept equal to the registries."""
from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import GatewayMetrics
from server.catalog import load_catalog
from server.catalog.lifecycle import Lifecycles
from server.database.records import LedgerEntry
from server.pipeline.breakers import Breakers, BreakerSettings, Ticket
from server.runtime.metrics import ServerMetrics, start_exporter
from tests.server.test_breakers import Clock

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 6, 1)


def entry(**fields: object) -> LedgerEntry:
    base: dict[str, object] = dict(
        id="led_1", request_id="req_img_secretrequestid", key_id="key_0123456789abcdef", mode="live",
        model="dall-e-3", provider="openai", upstream_model="gpt-image-2", n_requested=1, n_delivered=1,
        size="1024x1024", quality="standard", cost_micros=40_000, billed_micros=40_000, latency_ms=900,
        status="ok", error_type="", end_user="", created_at=0, day="2026-06-01", deployment="dall-e-3/gpt-image-2",
        upstream_cost_micros=25_000, kind="generation", prompt="a secret prompt")
    base.update(fields)
    return LedgerEntry(**base)  # type: ignore[arg-type]


def server_metrics() -> ServerMetrics:
    catalog = load_catalog()
    return ServerMetrics(catalog, Lifecycles(catalog, lambda: TODAY))


def exercised(metrics: ServerMetrics) -> ServerMetrics:
    """Every metric with a sample, so each family shows its labels."""
    metrics.finished(entry(), 0.9, 0.85)
    metrics.finished(entry(model="<script>" * 5, upstream_model="whatever-the-upstream-said", status="error",
                           error_type="invalid_request", n_delivered=0, billed_micros=0, upstream_cost_micros=0), 0.01, 0)
    metrics.upstream_call("openai", "dall-e-3/gpt-image-2", 0.85, None)
    metrics.upstream_call("openai", "dall-e-3/gpt-image-2", 2.0, "upstream_error")
    metrics.refusals.labels("minute").inc()
    metrics.rpcs.labels("GenerateImages", "OK").inc()
    metrics.stored([1000, 2000])
    metrics.watch_budget(lambda: 123, 1 << 30)
    metrics.watch_circuits(load_catalog(), lambda deployment: ("closed", 0.0))
    return metrics


async def scrape(metrics: ServerMetrics) -> str:
    runner, port = await start_exporter(metrics, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain; version=")
            return await reply.text()
    finally:
        await runner.cleanup()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_exposition_over_http_counts_and_bounds_labels() -> None:
    text = asyncio.run(scrape(exercised(server_metrics())))
    found = samples(text)
    ok = frozenset({"kind": "generation", "model": "dall-e-3", "provider": "openai", "upstream_model": "gpt-image-2",
                    "mode": "live", "outcome": "ok"}.items())
    assert found[("perf_generations_total", ok)] == 1
    # What a caller or an upstream typed is never a label value.
    hostile = frozenset({"kind": "generation", "model": "other", "provider": "openai", "upstream_model": "other",
                         "mode": "live", "outcome": "invalid_request"}.items())
    assert found[("perf_generations_total", hostile)] == 1
    assert "<script>" not in text and "whatever-the-upstream-said" not in text
    # No key id, request id or prompt anywhere.
    assert "key_0123456789abcdef" not in text and "secretrequestid" not in text and "secret prompt" not in text
    money = frozenset({"model": "dall-e-3", "provider": "openai"}.items())
    assert found[("perf_billed_usd_total", money)] == 0.04
    assert found[("perf_upstream_cost_usd_total", frozenset({"provider": "openai",
                                                             "upstream_model": "gpt-image-2"}.items()))] == 0.025
    assert found[("perf_upstream_errors_total", frozenset({"provider": "openai", "deployment": "dall-e-3/gpt-image-2",
                                                           "type": "upstream_error"}.items()))] == 1
    # Our own time is the whole less the upstream's: 0.05 s of the first request, 0.01 s of the second.
    own_sum = found[("perf_generation_own_seconds_sum", frozenset({"kind": "generation"}.items()))]
    assert abs(own_sum - 0.06) < 1e-9
    assert found[("perf_stored_image_bytes_total", frozenset())] == 3000
    assert found[("perf_inflight_image_bytes", frozenset())] == 123
    assert found[("perf_limiter_refusals_total", frozenset({"limit": "minute"}.items()))] == 1


def test_days_to_shutdown_follow_the_catalog_dates() -> None:
    catalog = load_catalog()
    found = samples(asyncio.run(scrape(server_metrics())))
    dated = [d for d in catalog.deployments.values() if d.lifecycle.shutdown_on is not None]
    assert dated, "the shipped catalog has deployments with shutdown dates"
    for deployment in dated:
        labels = frozenset({"deployment": deployment.id, "model": deployment.model,
                            "provider": deployment.provider}.items())
        assert deployment.lifecycle.shutdown_on is not None
        assert found[("perf_deployment_days_to_shutdown", labels)] == (deployment.lifecycle.shutdown_on - TODAY).days
        assert found[("perf_deployment_live", labels)] == (1 if deployment.lifecycle.shutdown_on > TODAY else 0)


def test_each_instance_has_its_own_registry() -> None:
    first, second = server_metrics(), server_metrics()  # the global registry would refuse the second
    first.refusals.labels("day").inc()
    assert ("perf_limiter_refusals_total", frozenset({"limit": "day"}.items())) not in samples(second.exposition().decode())


def registered(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name (as exposed: counters with _total) -> (type, label names)."""
    out = {}
    for family in text_string_to_metric_families(text):
        name = family.name + "_total" if family.type == "counter" else family.name
        labels = frozenset(k for s in family.samples for k in s.labels if k != "le")
        out[name] = (family.type, labels)
    return out


def test_readme_lists_every_metric_with_its_type_and_labels() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- metrics:begin -->", 1)[1].split("<!-- metrics:end -->", 1)[0]
    listed = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            listed[cells[0].strip("`")] = (cells[1], frozenset(re.findall(r"`([a-z_]+)`", cells[2])))
    gateway = GatewayMetrics()
    gateway.finished("/v1/models", "GET", 200, "", 0.01)
    gateway.in_flight.set(0)
    actual = registered(exercised(server_metrics()).exposition().decode()) | registered(gateway.exposition().decode())
    assert listed == actual


def test_circuit_states_are_read_from_the_breakers_at_scrape_time() -> None:
    catalog = load_catalog()
    clock = Clock()
    breakers = Breakers(BreakerSettings(failures=2, cooldown_s=30, min_calls=100), clock)  # type: ignore[arg-type]
    metrics = server_metrics()
    metrics.watch_circuits(catalog, breakers.view)
    for _ in range(2):
        ticket = breakers.admit("flux-dev/flux-2-klein-9b")
        assert isinstance(ticket, Ticket)
        ticket.failed()

    def state(deployment: str, model: str, provider: str, text: str) -> dict[str, float]:
        found = samples(text)
        return {s: found[("perf_deployment_circuit", frozenset({"deployment": deployment, "model": model,
                                                                 "provider": provider, "state": s}.items()))]
                for s in ("closed", "open", "half_open")}

    text = metrics.exposition().decode()
    assert state("flux-dev/flux-2-klein-9b", "flux-dev", "bfl", text) == {"closed": 0, "open": 1, "half_open": 0}
    assert state("flux-dev/fal", "flux-dev", "fal", text) == {"closed": 1, "open": 0, "half_open": 0}
    clock.now += 30
    text = metrics.exposition().decode()
    assert state("flux-dev/flux-2-klein-9b", "flux-dev", "bfl", text) == {"closed": 0, "open": 0, "half_open": 1}


def test_cached_children_are_the_metrics_own_and_count_in_its_exposition() -> None:
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    from contract.metric_children import Children

    registry = CollectorRegistry()
    counter = Counter("perf_test_things", "Things.", ("kind",), registry=registry)
    children = Children(counter)
    assert children("a") is children("a") is counter.labels("a")
    children("a").inc()
    children("b").inc(2)
    counter.labels("a").inc()
    text = generate_latest(registry).decode()
    assert 'perf_test_things_total{kind="a"} 2.0' in text and 'perf_test_things_total{kind="b"} 2.0' in text
