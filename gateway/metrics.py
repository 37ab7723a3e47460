"""The gateway's Prometheus metrics: their one definition, and the GET /metrics handler.

One `GatewayMetrics` per gateway process (its own CollectorRegistry, made in build_app). Label values
are bounded: the route is the matched route's template (`/v1/models/{model}`, never the model a
caller typed), anything unrouted is "unmatched", a method outside the HTTP standard ones is "other",
and the error type comes from the public error table. Several gateways sharing a port through
SO_REUSEPORT answer GET /metrics from whichever process took the connection, so each can also serve
its own on PERF_GATEWAY_METRICS_PORT, which is what to scrape then (README "Metrics, logs and traces").
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from contract.metric_children import Children

log = logging.getLogger("perf.gateway")

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
           float("inf"))


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # No `_created` series: they double the exposition and no dashboard here reads them.
        disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("perf_gateway_requests", "HTTP requests answered, by route template, method, status "
                                "and error type (empty when none).", ("route", "method", "status", "error_type"),
                                registry=r)
        self.seconds = Histogram("perf_gateway_request_seconds", "HTTP requests, received to last byte sent.",
                                 ("route",), buckets=BUCKETS, registry=r)
        self.in_flight = Gauge("perf_gateway_requests_in_flight", "HTTP requests being handled now.", registry=r)
        self._requests, self._seconds = Children(self.requests), Children(self.seconds)  # contract/metric_children.py

    def finished(self, route: str, method: str, status: int, error_type: str, seconds: float) -> None:
        self._requests(route, method if method in METHODS else "other", str(status), error_type).inc()
        self._seconds(route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_of(request: web.Request) -> str:
    """The matched route's template, or UNMATCHED (404, 405): never the path itself."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def metrics_handler(metrics: GatewayMetrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return scrape


async def start_own_exporter(metrics: GatewayMetrics, host: str, port: int) -> web.AppRunner:
    """This process's own GET /metrics on `port` (PERF_GATEWAY_METRICS_PORT), beside the shared HTTP port."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(metrics))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("Prometheus metrics of this gateway process on http://%s:%d/metrics", host, port)
    return runner
