"""bench/compare (the side-by-side with LiteLLM's proxy): the parts that decide its figures.

The harness itself is not run here, even in --quick, even where .venv-litellm exists: it starts LiteLLM's
proxy (~10 s of CPU per start) and takes about two minutes, far past what a unit of this suite may take on
two shared cores. What is tested instead: the answer check under real load (wrk and the Python client
against the real fake upstream), wrk's output parsing, the /proc readings, and medians, ratios and rows.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.compare import litellm_proxy, procs
from bench.compare.load import _python_closed_loop, carries_image, closed_loop, parse_wrk
from bench.compare.report import LITELLM, UPSTREAM, US, Cell, error_lines, markdown, median_cell, ratio, table_rows
from bench.live import fake_openai

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:41234/v1/images/generations
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.47ms    2.10ms  41.02ms   90.12%
    Req/Sec     1.19k    80.11     1.30k    72.00%
  Latency Distribution
     50%   13.20ms
     75%   14.01ms
     90%   15.30ms
     99%    1.02s
  5950 requests in 5.00s, 109.14MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1189.95
Transfer/sec:     21.83MB
BAD 7
"""
BODY = json.dumps({"prompt": "benchmark", "model": "dall-e-3", "size": "1024x1024",
                   "response_format": "b64_json"}).encode()
HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}


def test_wrk_output_gives_answers_errors_and_latencies() -> None:
    load = parse_wrk(WRK_OUTPUT)
    # 5,950 answers plus 3 socket failures; errors: 7 rejected by the script (the 4 non-2xx among them) + 3.
    assert (load.answered, load.errors, load.seconds) == (5953, 10, 5.0)
    assert load.rps == pytest.approx(5943 / 5.0)
    assert (load.p50_ms, load.p99_ms) == (13.2, 1020.0)
    with pytest.raises(ValueError, match="BAD"):
        parse_wrk(WRK_OUTPUT.replace("BAD 7\n", ""))


def test_an_answer_counts_only_when_it_carries_the_image() -> None:
    image = b'{"created":1,"data":[{"b64_json": "' + b"A" * 100 + b'","revised_prompt":"' + b"x" * 300 + b'"}]}'
    assert carries_image(200, image, 100)
    assert not carries_image(200, image, 101)  # not the image's length: cut, padded or another image
    assert not carries_image(200, b'{"created":1,"data":[]}' + b" " * 200, 100)
    assert not carries_image(500, image, 100)
    assert carries_image(200, b"{}", 0) and not carries_image(502, b"{}", 0)  # 0: any 200 (warming up)


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with fake_openai(0.0, 0.0) as url:
        yield url


def _b64_length(url: str) -> int:
    from tests.stack import http

    return len(http("POST", url + "/v1/images/generations", BODY, HEADERS).json()["data"][0]["b64_json"])


def test_python_client_checks_every_answer_against_the_fake(fake_url: str) -> None:
    url, size = fake_url + "/v1/images/generations", _b64_length(fake_url)
    good = asyncio.run(_python_closed_loop(url, BODY, HEADERS, 4, 0.5, size))
    assert good.answered > 0 and good.errors == 0
    bad = asyncio.run(_python_closed_loop(url, BODY, HEADERS, 4, 0.5, size + 1))
    assert bad.answered > 0 and bad.errors == bad.answered and bad.rps == 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_wrk_script_checks_every_answer_against_the_fake(fake_url: str) -> None:
    url, size = fake_url + "/v1/images/generations", _b64_length(fake_url)
    good = closed_loop(url, BODY, HEADERS, 4, 1.0, size)
    assert good.answered > 0 and good.errors == 0 and good.p50_ms > 0
    bad = closed_loop(url, BODY, HEADERS, 4, 1.0, size + 1)
    assert bad.answered > 0 and bad.errors == bad.answered


def test_proc_readings_follow_a_child_and_its_cpu() -> None:
    assert procs.parse_stat("12 (a) b) S 1 12 12 0 -1 0 0 0 0 0 7 3 5 2 20 0 1 0").utime == 7  # ')' in a name
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.process_time()\n"
                              "while time.process_time() - t < 0.3: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while procs.cpu_seconds(child.pid) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in procs.tree(os.getpid())
        assert procs.cpu_seconds(os.getpid()) >= procs.cpu_seconds(child.pid) >= 0.25
        assert procs.rss_mb(child.pid) > 1 and procs.peak_mb(child.pid) >= procs.rss_mb(child.pid)
    finally:
        child.kill()
        child.wait()


def test_foreign_peers_ignore_loopback() -> None:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    loopback = "   0: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 111\n"
    foreign = "   1: 0100007F:A1B3 08080808:01BB 02 00000000:00000000 00:00000000 00000000     0        0 222\n"
    text = header + loopback + foreign
    assert procs.parse_net_tcp(text, {"111", "222"}) == {"8.8.8.8:443"}
    assert procs.parse_net_tcp(text, {"111"}) == set()
    v6 = "   0: 00000000000000000000000001000000:A1B2 0000000000000000FFFF00000100007F:1F90 01 0 0 0 0 0 333\n"
    assert procs.parse_net_tcp(header + v6, {"333"}) == set()  # ::ffff:127.0.0.1


def _cell(system: str, image: str, kind: str, concurrency: int, rep: int, rps: float, p50: float,
          cpu: dict[str, float], peak: dict[str, float], errors: int = 0) -> Cell:
    return Cell(system, image, kind, concurrency, rep, rps=rps, p50_ms=p50, p99_ms=p50 * 2, answered=100,
                errors=errors, cpu_ms=cpu, peak_mb=peak, rss_end_mb=peak, rss_settled_mb=peak,
                success_pct=100.0 if kind == "hold" else None)


def test_medians_ratios_and_rows() -> None:
    us_procs = {"gateway": 0.3, "server": 0.9}
    cells = [
        _cell(US, "small", "closed", 16, 1, 1000, 10, us_procs, {"gateway": 50, "server": 70}),
        _cell(US, "small", "closed", 16, 2, 1400, 14, {"gateway": 0.5, "server": 0.7}, {"gateway": 50, "server": 90}),
        _cell(LITELLM, "small", "closed", 16, 1, 200, 80, {"litellm": 5.0}, {"litellm": 400}),
        _cell(LITELLM, "small", "closed", 16, 2, 200, 80, {"litellm": 5.0}, {"litellm": 400}, errors=3),
        _cell(US, "small", "closed", 1, 1, 300, 3.0, us_procs, {"gateway": 50, "server": 70}),
        _cell(LITELLM, "small", "closed", 1, 1, 100, 9.0, {"litellm": 5.0}, {"litellm": 400}),
        _cell(UPSTREAM[US], "small", "closed", 1, 1, 2000, 0.5, {}, {}),
        _cell(UPSTREAM[LITELLM], "small", "closed", 1, 1, 2000, 1.0, {}, {}),
        _cell(US, "small", "hold", 1000, 1, 400, 2100, us_procs, {"gateway": 100, "server": 160}),
        _cell(LITELLM, "small", "hold", 1000, 1, 80, 9000, {"litellm": 5.0}, {"litellm": 1600}),
    ]
    median = median_cell(cells, US, "small", "closed", 16)
    assert median is not None and median.rps == 1200 and median.cpu_ms == {"gateway": 0.4, "server": 0.8}
    assert median_cell(cells, US, "large", "closed", 16) is None
    assert ratio(1200, 200) == "6.00×" and ratio(1.0, float("nan")) == "" and ratio(1.0, 0) == ""
    idle = {"closed/small": {US: {"gateway": 40.0, "server": 60.0}, LITELLM: {"litellm": 370.0}}}
    rows = {row[0]: row[1:] for row in table_rows(cells, {"small": "18 KB b64 image"}, (1, 16), 1000, idle, {}, 30)}
    assert rows["18 KB b64 image, 16 conn: req/s"] == ("1,200", "200", "6.00×")
    assert rows["18 KB b64 image, 16 conn: CPU ms per request"] == ("1.20 (gateway 0.40 + server 0.80)", "5.00",
                                                                    "0.24×")
    assert rows["18 KB b64 image, 16 conn: peak RSS MB"] == ("130 (gateway 50 + server 80)", "400", "0.33×")
    # Added latency: each system's p50 less the bare upstream's, asked what that system asks it.
    assert rows["18 KB b64 image, 1 conn: added p50 over the bare upstream (ms)"] == ("2.50", "8.00", "0.31×")
    assert rows["18 KB b64 image: idle RSS MB before the cells"] == ("100 (gateway 40 + server 60)", "370", "0.27×")
    held = "1,000 conn held, 2 s upstream, 18 KB b64 image"
    assert rows[f"{held}: success %"][:2] == ("100.0", "100.0")
    assert rows[f"{held}: p50 / p99 (s)"] == ("2.10 / 4.20", "9.00 / 18.00", "0.23× / 0.23×")
    assert markdown([("a", "b", "c", "d")]).splitlines()[-1] == "| a | b | c | d |"
    assert error_lines(cells) == ["litellm small closed c16 rep 2: 3 of 100 answers were errors (non-200, "
                                  "transport, or no image in the body)"]


def test_litellm_config_routes_the_alias_to_the_fake_with_no_database() -> None:
    config = litellm_proxy.render_config("http://127.0.0.1:5555")
    assert f"model_name: {litellm_proxy.ALIAS}" in config
    assert "api_base: http://127.0.0.1:5555/v1" in config and "model: openai/gpt-image-2" in config
    assert "database" not in config.lower() and "drop_params: true" in config
    assert litellm_proxy.ENV["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_only_picks_settings_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.compare.cli import options_from

    options, _, quick = options_from(["--only", "hold/large", "--only", "closed/small"])
    assert options.settings == (("hold", "large"), ("closed", "small")) and not quick
    with pytest.raises(SystemExit):
        options_from(["--only", "hold/huge"])
    assert "unknown hold/huge" in capsys.readouterr().err


def test_our_bare_upstream_row_asks_the_fake_what_our_server_asks_it() -> None:
    """The "added p50" subtracts this row: it must time the upstream call our server really makes for the
    public model the cells request, not another model's path through the fake."""
    from bench.compare.run import BODIES
    from server.catalog import load_catalog
    from server.runtime.config import ServerSettings

    catalog = load_catalog(ServerSettings().catalog_path)
    public = BODIES[US]["model"]
    deployment = catalog.deployments[catalog.models[public].deployments[0]]
    upstream = BODIES[UPSTREAM[US]]
    assert upstream["model"] == deployment.upstream_model
    assert upstream["quality"] == deployment.quality["standard"] and upstream["size"] == BODIES[US]["size"]
