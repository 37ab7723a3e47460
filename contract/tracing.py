"""OpenTelemetry tracing of both processes, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

    gateway   SERVER span per HTTP request ─┐ traceparent in the gRPC metadata (W3C Trace Context)
    server    SERVER span per RPC ──────────┘ (parent: the gateway's span)
                └── CLIENT span per upstream HTTP call (server/providers/registry.py, aiohttp tracing)

Spans go over OTLP/HTTP (protobuf) to `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces` through a batch
processor; the SDK's own OTEL_* variables (OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY,
OTEL_TRACES_SAMPLER, …) apply as usual. The SDK is imported only when tracing is on, so the processes
run without it installed, and `Tracing.off()` costs a couple of attribute lookups per request. The
tracer provider belongs to this object, not to the SDK's global, so tests can run several.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("perf.tracing")

# Propagation headers: what we read from a caller and write into the gRPC metadata.
TRACE_HEADERS = ("traceparent", "tracestate")


class SpanHandle(Protocol):
    def set_attribute(self, key: str, value: str | int | float | bool) -> None: ...


class _NoSpan:
    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        return None


NO_SPAN = _NoSpan()


class Tracing:
    """One process's tracer (or none): spans, and the headers that carry the current one onward."""

    def __init__(self, provider: Any = None, service: str = "") -> None:
        self._provider = provider
        self.service = service
        self.enabled = provider is not None
        if provider is not None:
            from opentelemetry.trace import SpanKind, Status, StatusCode
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            self._tracer = provider.get_tracer("perf")
            self._propagator = TraceContextTextMapPropagator()
            self._kinds = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
            self._error = (Status, StatusCode.ERROR)

    @classmethod
    def off(cls) -> Tracing:
        return cls()

    @contextlib.contextmanager
    def span(self, name: str, *, kind: str = "internal", carrier: Mapping[str, str] | None = None,
             attributes: Mapping[str, str | int | float | bool] | None = None) -> Iterator[SpanHandle]:
        """A span made current for the block; `carrier` (headers or metadata) names its remote parent."""
        if not self.enabled:
            yield NO_SPAN
            return
        parent = self._propagator.extract(carrier) if carrier else None
        with self._tracer.start_as_current_span(name, context=parent, kind=self._kinds[kind],
                                                attributes=dict(attributes or {})) as span:
            yield span

    def start(self, name: str, *, kind: str = "client",
              attributes: Mapping[str, str | int | float | bool] | None = None) -> Any:
        """A span under the current one, not made current: for callbacks that end it elsewhere."""
        if not self.enabled:
            return None
        return self._tracer.start_span(name, kind=self._kinds[kind], attributes=dict(attributes or {}))

    def failed(self, span: Any, description: str) -> None:
        """Mark a span (from `span` or `start`) as failed; `description` must be a bounded word."""
        if self.enabled and span is not None and span is not NO_SPAN:
            status, code = self._error
            span.set_status(status(code, description))

    def headers(self) -> list[tuple[str, str]]:
        """traceparent (and tracestate) for the current span, for the next hop's metadata."""
        if not self.enabled:
            return []
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return list(carrier.items())

    def shutdown(self) -> None:
        """Export what is still queued (blocking, at most a few seconds), then stop."""
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = None
            self.enabled = False


@dataclass(frozen=True)
class TracingSettings:
    """OTEL_EXPORTER_OTLP_ENDPOINT (None: tracing off) and OTEL_SERVICE_NAME (None: the process's own name)."""

    endpoint: str | None = None
    service: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TracingSettings:
        return cls(endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None, service=env.get("OTEL_SERVICE_NAME") or None)


def start_tracing(settings: TracingSettings, default_service: str) -> Tracing:
    """Tracing per the settings: off unless an OTLP endpoint is set."""
    if not settings.endpoint:
        return Tracing.off()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        raise RuntimeError("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed "
                           "(pip install -r requirements.txt)") from missing
    service = settings.service or default_service
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # The signal path is spelled out: the exporter appends /v1/traces only to the variable it reads itself.
    endpoint = settings.endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    log.info("tracing: OTLP/HTTP spans to %s as service %s", endpoint, service)
    return Tracing(provider, service)
