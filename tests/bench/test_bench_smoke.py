"""The benchmarks still run against the current code (they assert nothing themselves)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from bench.accounting import accounting_only


def test_accounting_benchmark_runs(tmp_path: Path) -> None:
    table = asyncio.run(accounting_only("sqlite + in-process", None, None, "", tmp_path, 32))
    assert table.count("| sqlite + in-process") == 2


def test_the_floor_server_relays_the_upstream_image_through_our_gateway(tmp_path: Path) -> None:
    """bench/floor.py's baseline is a real relay: the image the fake made comes out of our gateway."""
    import base64
    import os

    import orjson

    from bench.floor import BODY, Reading, floor_stack, table
    from bench.live import fake_openai
    from tests.stack import http

    env = {**os.environ, "PYTHONPATH": f"generated{os.pathsep}.", "PERF_LOG_LEVEL": "WARNING"}
    with fake_openai(0.0, 0.0) as fake_url, floor_stack(fake_url, env, tmp_path / "floor") as floor:
        direct = http("POST", fake_url + "/v1/images/generations", {"model": "gpt-image-2", "prompt": "benchmark",
                      "n": 1, "size": "1024x1024", "quality": "medium"}, headers={"Authorization": "Bearer test-key"})
        relayed = http("POST", floor.url + "/v1/images/generations", BODY,
                       headers={"Authorization": "Bearer pk_live_unchecked", "Content-Type": "application/json"})
    assert relayed.status == 200
    image = base64.b64decode(orjson.loads(relayed.body)["data"][0]["b64_json"])
    assert image == base64.b64decode(orjson.loads(direct.body)["data"][0]["b64_json"]) and image[:4] == b"\x89PNG"
    lines = table({"ours": [Reading(100, 1.0, 2.0, 0, 3.0)], "floor": [Reading(400, 0.5, 0.5, 0, 1.5)],
                   "upstream": [Reading(5000, 0.0, 0.0, 0, 0.25)]}, 16, 1, 1.0)
    assert "|         2.75 |" in lines[3] and "|         1.25 |" in lines[4]  # added p50 over the bare fake
    assert lines[-1].startswith("ours ÷ floor: req/s 0.25×, CPU per request 3.00× (2.000 ms of product work, 1.500")


def test_the_floor_hold_answers_every_request_of_each_chain(tmp_path: Path) -> None:
    """`bench.floor --hold`: ours, the floor and the fake each answer a small burst against the 2 s upstream."""
    from bench.floor import hold

    rows = hold(8, 1, tmp_path)[3:]
    assert [row.split("|")[1].strip() for row in rows] == ["ours (the product)", "floor (relay only)",
                                                          "the fake upstream, direct"]
    for row in rows:
        success, p50, p99 = (float(cell) for cell in row.split("|")[2:5])
        assert success == 100.0 and 2.0 <= p50 <= p99  # nobody answers before the upstream does


def test_the_ab_compares_this_tree_with_a_ref_each_started_first_in_turn(tmp_path: Path) -> None:
    """`bench.ab HEAD`: both sides answer through their own checkout, and each round's first is the other."""
    from bench.ab import run

    lines = run("HEAD", 2, 2, 1, 0.5, tmp_path)
    rounds = [line.split("|") for line in lines[3:5]]
    assert [cells[2].strip() for cells in rounds] == ["tree", "ref"]
    for cells in rounds:
        tree_rps, ref_rps = (float(v) for v in cells[3].split("/"))
        assert tree_rps > 0 and ref_rps > 0  # every side served requests
    assert lines[5].startswith("effect of this tree over HEAD")
    assert lines[6] == "errors: tree 0, ref 0" and lines[7].startswith("start order's share")
    assert not (tmp_path / "ref-tree").exists()  # the worktree is removed


def test_the_instruction_count_reads_both_processes_of_this_tree(tmp_path: Path) -> None:
    """`bench.instructions`: the server and the gateway, each under callgrind, counted over a few requests."""
    import pytest

    from bench.instructions import run, valgrind_available

    if not valgrind_available():
        pytest.skip("valgrind is not installed (apt-get install valgrind; .ci/run installs it)")
    lines = run(None, 3, tmp_path)
    assert lines[1] == "| process | tree |"
    counts = {row.split("|")[1].strip(): float(row.split("|")[2]) for row in lines[3:]}
    # Millions per request: a request's Python work (auth, ledger, protobuf) is far above 0.1 M either side.
    assert set(counts) == {"server", "gateway"} and all(0.1 < value < 100 for value in counts.values()), lines
