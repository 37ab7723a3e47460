"""An OTLP/HTTP trace receiver for tests: accepts POST /v1/traces (protobuf) and keeps every span.

Run with tests.fakes.server.FakeServer (a thread with its own loop); both the gateway and the server
export to its base URL through OTEL_EXPORTER_OTLP_ENDPOINT, as they would to a collector.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from aiohttp import web
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

# OTLP's Span.SpanKind numbers.
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


class Receiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        return app

    async def _traces(self, request: web.Request) -> web.Response:
        export = trace_service_pb2.ExportTraceServiceRequest.FromString(await request.read())
        found = []
        for resource_spans in export.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value") or "string_value")
                                  for a in span.attributes}
                    found.append(ReceivedSpan(service, span.name, KINDS.get(span.kind, "?"), span.trace_id.hex(),
                                              span.span_id.hex(), span.parent_span_id.hex(), attributes))
        with self._lock:
            self.spans.extend(found)
        return web.Response(body=trace_service_pb2.ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    def wait_for(self, trace_id: str, kinds: set[tuple[str, str]], timeout_s: float = 15.0) -> list[ReceivedSpan]:
        """The spans of `trace_id` once a span of each (service, kind) in `kinds` has arrived.

        Wait for the spans that end last (a process's server span ends after its client spans, and
        one processor exports in the order spans end), so that the ones before them are in too."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                spans = [s for s in self.spans if s.trace_id == trace_id]
            if kinds <= {(s.service, s.kind) for s in spans} or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)
