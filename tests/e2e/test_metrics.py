"""A real Prometheus scrapes a real gateway and server, and its PromQL answers count what we sent.

Debian's `prometheus` package (.ci/run installs it); skipped with a reason where it is absent. The
config is generated per run: both targets on their free ports, a 1 s scrape interval.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fakes.upstreams import Upstreams
from tests.stack import Stack, free_port, http

PROMETHEUS = shutil.which("prometheus")
GEN = "/v1/images/generations"
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed "
                                "(apt-get install prometheus; .ci/run does)")


class Prometheus:
    def __init__(self, workdir: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        jobs = "".join(f"  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
                       for job, target in targets.items())
        config = workdir / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: 1s, scrape_timeout: 900ms}}\nscrape_configs:\n{jobs}")
        self.log = workdir / "prometheus.log"
        assert PROMETHEUS is not None
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.log.read_text())
            try:
                if http("GET", self.url + "/-/ready", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready: " + self.log.read_text())

    def query(self, promql: str) -> float | None:
        """An instant query's one value (None: no series)."""
        answer = http("GET", f"{self.url}/api/v1/query?query={quote(promql)}").json()
        assert answer["status"] == "success", answer
        results = answer["data"]["result"]
        assert len(results) <= 1, results
        return float(results[0]["value"][1]) if results else None

    def eventually(self, promql: str, expected: float, timeout_s: float = 20.0) -> float | None:
        """The query's value once it equals `expected` (scrapes come every second), or the last one seen."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.query(promql)
            if value == expected or time.monotonic() > deadline:
                return value
            time.sleep(0.25)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Prometheus]]:
    metrics_port = free_port()
    with Upstreams(("openai",)) as upstreams:
        stack = Stack(tmp_path_factory.mktemp("scraped"),
                      env_overrides={**upstreams.env(), "PERF_METRICS_PORT": str(metrics_port)})
        stack.start()
        prometheus = Prometheus(tmp_path_factory.mktemp("prometheus"),
                                {"gateway": f"127.0.0.1:{stack.http_port}", "server": f"127.0.0.1:{metrics_port}"})
        try:
            prometheus.wait_ready()
            yield stack, prometheus
        finally:
            prometheus.stop()
            stack.stop()


def test_prometheus_counts_what_the_gateway_and_server_did(scraped: tuple[Stack, Prometheus]) -> None:
    stack, prometheus = scraped
    key = stack.create_key("test")
    for n in (1, 1, 2):
        response = stack.post(GEN, {"prompt": "a cat", "model": "dall-e-2", "size": "256x256", "n": n}, key)
        assert response.status == 200, response.body
    assert stack.post(GEN, {"prompt": "a cat", "model": "no-such-model"}, key).status == 404
    limited = stack.create_key("test", "--tier", "free", "--minute-limit", "1")
    assert stack.post(GEN, {"prompt": "a cat", "model": "dall-e-2", "size": "256x256"}, limited).status == 200
    assert stack.post(GEN, {"prompt": "a cat", "model": "dall-e-2", "size": "256x256"}, limited).status == 429
    assert stack.get("/no/such/route").status == 404
    # One live request, to the fake OpenAI: billed at dall-e-2's 512x512 price, and its upstream's cost.
    live = stack.post(GEN, {"prompt": "a cat", "model": "dall-e-2", "size": "512x512"}, stack.create_key("live"))
    assert live.status == 200, live.body

    expected = {
        'sum(up{job=~"gateway|server"})': 2,
        f'sum(perf_gateway_requests_total{{route="{GEN}",status="200"}})': 5,
        f'sum(perf_gateway_requests_total{{route="{GEN}",error_type="not_found"}})': 1,
        f'sum(perf_gateway_requests_total{{route="{GEN}",status="429",error_type="rate_limit_exceeded"}})': 1,
        'sum(perf_gateway_requests_total{route="unmatched",status="404"})': 1,
        'sum(perf_generations_total{model="dall-e-2",provider="openai",mode="test",outcome="ok"})': 4,
        # The caller's unknown model is never a label value: it is counted as "other".
        'sum(perf_generations_total{model="other",outcome="not_found"})': 1,
        'sum(perf_generations_total{outcome="rate_limit_exceeded"})': 1,
        'sum(perf_images_delivered_total{model="dall-e-2",mode="test"})': 5,
        'sum(perf_limiter_refusals_total{limit="minute"})': 1,
        'sum(perf_generation_own_seconds_count{kind="generation"})': 7,
        'sum(perf_upstream_call_seconds_count{provider="sandbox",outcome="ok"})': 4,
        'sum(perf_stored_images_total)': 6,
        'sum(perf_server_rpcs_total{method="GenerateImages"})': 7,
        'sum(perf_generations_total{model="dall-e-2",provider="openai",upstream_model="gpt-image-2",mode="live"})': 1,
        'sum(perf_upstream_call_seconds_count{provider="openai",deployment="dall-e-2/gpt-image-2",outcome="ok"})': 1,
        # Only the live request is billed; test keys never are.
        'sum(perf_billed_usd_total{model="dall-e-2",provider="openai"})': 0.018,
        'count(perf_upstream_cost_usd_total{provider="openai",upstream_model="gpt-image-2"} > 0)': 1,
        'perf_generations_in_flight': 0,
    }
    seen = {promql: prometheus.eventually(promql, value) for promql, value in expected.items()}
    assert seen == expected, json.dumps(seen, indent=1)
    # Gauges read at scrape time: the catalog's deployments with a shutdown date, and the byte budget.
    assert (prometheus.query("count(perf_deployment_days_to_shutdown)") or 0) >= 1
    assert prometheus.query("perf_inflight_image_bytes_limit") == 1024 * 1024 * 1024
