"""schemathesis over the live gateway: no server error, and no response the OpenAPI document does not allow.

A real server and gateway (the admin API configured), the document the gateway serves at
GET /openapi.json, and schemathesis's pytest integration: for every operation its examples phase (the
document's examples, the seed's among them), its coverage phase (boundary and missing values) and its
fuzzing phase, positive and negative, each response held to five checks. `/v1/` calls carry a test
key with limits no run reaches (the sandbox answers; nothing is billed), `/admin/v1/` the admin token.

Bounded for a loaded 2-core machine: PERF_SCHEMATHESIS_EXAMPLES fuzzed cases per operation (default
8; `PERF_SCHEMATHESIS_EXAMPLES=200 pytest -q tests/e2e/test_openapi_schemathesis.py -s` for a deeper
run). The figures (operations, cases sent, failures) are printed at the end of the module.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import openapi_check
from tests.stack import Stack

ADMIN_TOKEN = "openapi-fuzz-admin-token-51c0ffee"
EXAMPLES = int(os.environ.get("PERF_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Cases sent per operation, and statuses seen, for the figures printed at the end.
SENT: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    # The coverage phase also sends cases without Authorization (401, as documented): with the usual
    # failure limit, ten of those would lock this address out of the admin API for the rest of the run.
    settings = {"PERF_ADMIN_TOKEN": ADMIN_TOKEN, "PERF_ADMIN_MAX_FAILURES_PER_MINUTE": "1000000"}
    running = Stack(tmp_path_factory.mktemp("schemathesis"), env_overrides=settings).start()
    try:
        yield running
    finally:
        running.stop()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None and SENT:
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATUSES.items()))
            with capture.global_and_fixture_disabled():  # the figures, even when every case passed
                reporter.write_line(f"\nschemathesis: {len(SENT)} operations, {sum(SENT.values())} cases sent "
                                    f"(up to {EXAMPLES} fuzzed per operation); statuses {statuses}")


@pytest.fixture(scope="module")
def fuzz_key(fuzz_stack: Stack) -> str:
    return fuzz_stack.create_key("test")


def load_schema() -> Any:
    """The document, with the run's bounds. Loaded from the file at collection (the gateway's port is not
    known yet); GET /openapi.json serving this very document is checked below."""
    # (schemathesis.pytest.from_fixture would fetch it from the live gateway, but its lazy loader sets
    # pytest's private Node._nodeid, which pytest 9 no longer has.)
    loaded = schemathesis.openapi.from_dict(openapi_check.document())
    loaded.config.update(request_timeout=30)
    loaded.config.generation.update(max_examples=EXAMPLES)
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    return loaded


schema = load_schema()


def test_the_gateway_serves_the_document(fuzz_stack: Stack) -> None:
    served = fuzz_stack.get("/openapi.json").json()
    assert served["servers"] == [{"url": fuzz_stack.base_url, "description": "this gateway"}]
    assert {**served, "servers": None} == {**openapi_check.document(), "servers": None}


@schema.parametrize()
def test_the_live_gateway_keeps_its_document(case: Any, fuzz_stack: Stack, fuzz_key: str) -> None:
    token = ADMIN_TOKEN if case.path.startswith("/admin/") else fuzz_key
    response = case.call(base_url=fuzz_stack.base_url, headers={"Authorization": f"Bearer {token}"})
    SENT[case.operation.label] += 1
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)
