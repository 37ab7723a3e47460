"""Tracing is optional: without OTEL_EXPORTER_OTLP_ENDPOINT both processes import and build without the
OpenTelemetry SDK installed; with it set but the SDK missing, start-up says what to install."""
from __future__ import annotations

import subprocess
import sys

from tests.stack import ROOT

# Run in a fresh interpreter where every `opentelemetry` import fails, as if it were not installed.
PROGRAM = """
import sys
sys.modules["opentelemetry"] = None
from contract.tracing import TracingSettings, start_tracing
from gateway.app import build_app
from gateway.config import GatewaySettings
import server.runtime.app
from server.providers.upstream_spans import upstream_trace_configs
tracing = start_tracing(TracingSettings(), "perf-server")
assert not tracing.enabled and upstream_trace_configs(tracing) == ()
build_app(GatewaySettings())
try:
    start_tracing(TracingSettings(endpoint="http://127.0.0.1:4318"), "perf-server")
except RuntimeError as error:
    print("refused:", error)
"""


def test_both_processes_run_without_the_sdk_unless_tracing_is_asked_for() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT / 'generated'}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "refused: OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed" in done.stdout
