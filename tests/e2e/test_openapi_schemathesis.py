"""schemathesis over the live gateway: no server error, and no response the OpenAPI document does not allow.

A real server and gateway (the admin API configured), the document the gateway serves at
GET /openapi.json, and schemathesis's pytest integration: for every operation its examples phase (the
document's examples, the seed's among them), its coverage phase (boundary and missing values) and its
fuzzing phase, positive and negative; then stateful scenarios along the document's links (create a key,
then read, change, rotate and revoke it; page through generations). Every response is held to five
checks. `/v1/` calls carry a test key with limits no run reaches (the sandbox answers; nothing is
billed), `/admin/v1/` the admin token.

Bounded for a loaded 2-core machine (about 15 s): PERF_SCHEMATHESIS_EXAMPLES fuzzed cases per operation
and stateful scenarios (default 8; `make fuzz` runs 200). The figures (operations, cases, stateful steps,
failures, statuses) are printed at the end of the module.
"""
from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
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
# Cases sent per operation (stateful steps apart), statuses seen and cases that failed a check, for
# the figures printed at the end.
SENT: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
FAILED: Counter[str] = Counter()
STATEFUL = "stateful "


def figures() -> str:
    stateless = {label: n for label, n in SENT.items() if not label.startswith(STATEFUL)}
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATUSES.items()))
    return (f"schemathesis: {len(stateless)} operations, {sum(stateless.values())} cases (up to {EXAMPLES} fuzzed "
            f"per operation), {sum(SENT.values()) - sum(stateless.values())} stateful steps; "
            f"{sum(FAILED.values())} failed a check; statuses {statuses}")


def checked(case: Any, response: Any, label: str, transport_kwargs: dict[str, Any] | None = None) -> None:
    SENT[label] += 1
    STATUSES[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, transport_kwargs=transport_kwargs)
    except Exception:
        FAILED[label] += 1
        raise


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
            with capture.global_and_fixture_disabled():  # the figures, even when every case passed
                reporter.write_line("\n" + figures())


@pytest.fixture(scope="module")
def fuzz_key(fuzz_stack: Stack) -> str:
    return fuzz_stack.create_key("test")


def load_schema() -> Any:
    """The document, with the run's bounds. Loaded from the file at collection (the gateway's port is not
    known yet); GET /openapi.json serving this very document is checked below."""
    # (schemathesis.pytest.from_fixture would fetch it from the live gateway, but its lazy loader sets
    # pytest's private Node._nodeid, which pytest 9 no longer has.)
    # A copy: schemathesis annotates the dict it is given, and the checker's cached document must stay as written.
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(openapi_check.document()))
    loaded.config.update(request_timeout=30)
    loaded.config.generation.update(max_examples=EXAMPLES)
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
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
    checked(case, response, case.operation.label)


def test_stateful_scenarios_keep_the_document(fuzz_stack: Stack, fuzz_key: str) -> None:
    """Chains of calls along the links schemathesis infers (create a key, then read, change, rotate and
    revoke it; generate, then fetch the image), each response held to the same checks."""
    machine = schema.as_state_machine()

    class Scenarios(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            token = ADMIN_TOKEN if case.path.startswith("/admin/") else fuzz_key
            return {"base_url": fuzz_stack.base_url, "headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            checked(case, response, STATEFUL + case.operation.label, kwargs or None)

    # Generation only: replaying or shrinking a scenario against a live server whose state moved on
    # (keys created, rotated, revoked) makes Hypothesis see different draws and report its own flakiness.
    # It can still notice that between two scenarios; as schemathesis's own engine does, that ends the
    # run without failing it, unless a check failed (every failure is counted before it is raised).
    try:
        Scenarios.run(settings=settings(max_examples=max(4, EXAMPLES), stateful_step_count=6, deadline=None,
                                        suppress_health_check=list(HealthCheck), database=None,
                                        phases=[Phase.generate]))
    except Flaky:
        if any(label.startswith(STATEFUL) for label in FAILED):
            raise
    assert any(label.startswith(STATEFUL) for label in SENT)
