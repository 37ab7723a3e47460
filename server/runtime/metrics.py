"""The server's Prometheus metrics: their one definition, and the exporter on PERF_METRICS_PORT.

One `ServerMetrics` per server process, made at start-up with its own CollectorRegistry (never the
library's global one), so a test can run several servers in one interpreter. Everything is recorded
from the one request path (server/pipeline/pipeline.py) and the wrapper around every RPC (call_wrappers.py);
gauges of state (the image byte budget, lifecycle dates) are read when scraped.

Label values are bounded by the catalog and the error table, never by what a caller sent: a model
or upstream model the catalog does not know is recorded as "other", and no key id, prompt or
request id is ever a label. Names and labels are listed in README.md "Metrics, logs and traces"
(tests/server/test_metrics.py checks that list against this registry).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from contract.metric_children import Children
from server.catalog.lifecycle import Lifecycles
from server.catalog.model import Catalog
from server.database.records import LedgerEntry

log = logging.getLogger("perf.server")

OTHER = "other"
# Our own part of a request is milliseconds; an upstream's is seconds to minutes.
OWN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, float("inf"))
MICROS_PER_USD = 1_000_000


class ServerMetrics:
    def __init__(self, catalog: Catalog, lifecycles: Lifecycles, registry: CollectorRegistry | None = None) -> None:
        # No `_created` series: they double the exposition and no dashboard here reads them.
        disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._models = frozenset(catalog.models)
        self._upstream_models = frozenset(
            m for d in catalog.deployments.values()
            for m in (d.upstream_model, d.edit and d.edit.upstream_model, d.inpaint and d.inpaint.upstream_model) if m)
        self.rpcs = Counter("perf_server_rpcs", "RPCs answered, by method and outcome (OK or the error type).",
                            ("method", "outcome"), registry=r)
        self.generations = Counter(
            "perf_generations", "Image requests finished (generations, edits, variations), by public model, provider, "
            "upstream model, key mode and outcome (ok, replayed, or the error type).",
            ("kind", "model", "provider", "upstream_model", "mode", "outcome"), registry=r)
        self.images = Counter("perf_images_delivered", "Images delivered to callers.",
                              ("model", "provider", "mode"), registry=r)
        self.billed = Counter("perf_billed_usd", "Money billed to live keys, in USD.", ("model", "provider"),
                              registry=r)
        self.upstream_cost = Counter("perf_upstream_cost_usd", "What the upstreams charged us, in USD (estimated "
                                     "from their price lists and usage).", ("provider", "upstream_model"), registry=r)
        self.seconds = Histogram("perf_generation_seconds", "Whole image requests, received to answered.",
                                 ("kind", "model"), buckets=UPSTREAM_BUCKETS, registry=r)
        self.own_seconds = Histogram("perf_generation_own_seconds", "Our own part of an image request: its whole "
                                     "time less the time spent waiting on upstreams.", ("kind",), buckets=OWN_BUCKETS,
                                     registry=r)
        self.upstream_seconds = Histogram("perf_upstream_call_seconds", "One deployment's provider call (submit, "
                                          "polls and downloads), by outcome (ok or the error type).",
                                          ("provider", "deployment", "outcome"), buckets=UPSTREAM_BUCKETS, registry=r)
        self.upstream_errors = Counter("perf_upstream_errors", "Provider calls that failed, by error type.",
                                       ("provider", "deployment", "type"), registry=r)
        self.refusals = Counter("perf_limiter_refusals", "Requests refused by a key's rate limit or spend cap, by "
                                "the limit that refused (a window name or monthly_spend).", ("limit",), registry=r)
        self.in_flight = Gauge("perf_generations_in_flight", "Image requests in the pipeline now.", registry=r)
        self.stored_bytes = Counter("perf_stored_image_bytes", "Bytes of images written to the image store.",
                                    registry=r)
        self.stored_images = Counter("perf_stored_images", "Images written to the image store.", registry=r)
        r.register(_LifecycleCollector(catalog, lifecycles))
        # What each request records, through cached children (contract/metric_children.py).
        self._generations, self._seconds = Children(self.generations), Children(self.seconds)
        self._own_seconds, self._images = Children(self.own_seconds), Children(self.images)
        self._billed, self._upstream_cost = Children(self.billed), Children(self.upstream_cost)
        self._upstream_seconds, self._upstream_errors = Children(self.upstream_seconds), Children(self.upstream_errors)

    def watch_circuits(self, catalog: Catalog, view: Callable[[str], tuple[str, float]]) -> None:
        """perf_deployment_circuit: each deployment's breaker state (server/pipeline/breakers.py), at scrape time."""
        self.registry.register(_CircuitCollector(catalog, view))

    def watch_budget(self, used: Callable[[], int], limit: int) -> None:
        """Gauges of the image byte budget (server/pipeline/budget.py), read at scrape time."""
        Gauge("perf_inflight_image_bytes", "Image bytes the generations in flight hold in memory (estimated).",
              registry=self.registry).set_function(lambda: float(used()))
        Gauge("perf_inflight_image_bytes_limit", "PERF_MAX_INFLIGHT_IMAGE_BYTES.",
              registry=self.registry).set(limit)

    def model(self, model: str) -> str:
        return model if model in self._models else OTHER

    def upstream_model(self, model: str) -> str:
        return model if model in self._upstream_models else OTHER

    @contextlib.contextmanager
    def generation(self) -> Iterator[None]:
        self.in_flight.inc()
        try:
            yield
        finally:
            self.in_flight.dec()

    def finished(self, entry: LedgerEntry, seconds: float, upstream_s: float) -> None:
        """One image request's ledger row, as counters and latencies."""
        model, provider = self.model(entry.model), entry.provider or "none"
        outcome = entry.error_type or entry.status
        self._generations(entry.kind, model, provider, self.upstream_model(entry.upstream_model), entry.mode,
                          outcome).inc()
        self._seconds(entry.kind, model).observe(seconds)
        self._own_seconds(entry.kind).observe(max(0.0, seconds - upstream_s))
        if entry.n_delivered and entry.status != "replayed":
            self._images(model, provider, entry.mode).inc(entry.n_delivered)
        if entry.billed_micros:
            self._billed(model, provider).inc(entry.billed_micros / MICROS_PER_USD)
        if entry.upstream_cost_micros:
            self._upstream_cost(provider, self.upstream_model(entry.upstream_model)).inc(
                entry.upstream_cost_micros / MICROS_PER_USD)

    def upstream_call(self, provider: str, deployment: str, seconds: float, error_type: str | None) -> None:
        self._upstream_seconds(provider, deployment, error_type or "ok").observe(seconds)
        if error_type is not None and error_type != "cancelled":  # a hang-up is not the upstream's failure
            self._upstream_errors(provider, deployment, error_type).inc()

    def stored(self, sizes: list[int]) -> None:
        self.stored_images.inc(len(sizes))
        self.stored_bytes.inc(sum(sizes))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _LifecycleCollector:
    """perf_deployment_days_to_shutdown and perf_deployment_live, computed for today at each scrape."""

    def __init__(self, catalog: Catalog, lifecycles: Lifecycles) -> None:
        self._catalog = catalog
        self._lifecycles = lifecycles

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ("deployment", "model", "provider")
        days = GaugeMetricFamily("perf_deployment_days_to_shutdown", "Days until a deployment's catalog shutdown "
                                 "date (negative: past it); deployments without a date are absent.", labels=labels)
        live = GaugeMetricFamily("perf_deployment_live", "1 while a deployment may serve (not shut down, not "
                                 "reported gone by its upstream), else 0.", labels=labels)
        today = self._lifecycles.today()
        for deployment in self._catalog.deployments.values():
            values = (deployment.id, deployment.model, deployment.provider)
            if deployment.lifecycle.shutdown_on is not None:
                days.add_metric(values, (deployment.lifecycle.shutdown_on - today).days)
            live.add_metric(values, 1.0 if self._lifecycles.live(deployment, today) else 0.0)
        yield days
        yield live

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # no describe-time collect: the registry would call collect() at registration


class _CircuitCollector:
    """perf_deployment_circuit{state}: 1 for the state each deployment's breaker is in now, 0 for the others,
    so `perf_deployment_circuit{state="open"} == 1` finds the open ones (state per server process)."""

    STATES = ("closed", "open", "half_open")

    def __init__(self, catalog: Catalog, view: Callable[[str], tuple[str, float]]) -> None:
        self._catalog = catalog
        self._view = view

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("perf_deployment_circuit", "A deployment's circuit breaker: 1 for its current "
                                   "state (closed, open, half_open), 0 for the others.",
                                   labels=("deployment", "model", "provider", "state"))
        for deployment in self._catalog.deployments.values():
            now, _ = self._view(deployment.id)
            for state in self.STATES:
                family.add_metric((deployment.id, deployment.model, deployment.provider, state),
                                  1.0 if state == now else 0.0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


async def start_exporter(metrics: ServerMetrics, host: str, port: int) -> tuple[web.AppRunner, int]:
    """GET /metrics on host:port, in this process's event loop (no thread); returns the runner and the port."""
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("Prometheus metrics on http://%s:%d/metrics", host, bound)
    return runner, int(bound)
