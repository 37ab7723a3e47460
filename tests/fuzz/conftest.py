"""Fuzz fixtures: one tally for the session, printed at the end of the run (cases, violations, time),
and a check that no fuzz case made either process log an error or a traceback."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.budget import Tally
from tests.stack import Stack

TALLY = pytest.StashKey[Tally]()
ALARMS = (" ERROR ", " CRITICAL ", "Traceback")


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Tally:
    return request.config.stash.setdefault(TALLY, Tally())


@pytest.fixture(autouse=True)
def no_errors_logged(stack: Stack) -> Iterator[None]:
    """Client input is the client's problem: at most a WARNING line, never an ERROR (issue 7: 385
    tracebacks in one 2,600-request run)."""
    logs = [stack.data_dir / "gateway.log", stack.data_dir / "server.log"]
    offsets = [log.stat().st_size for log in logs]
    yield
    for log, offset in zip(logs, offsets):
        with open(log, "rb") as handle:
            handle.seek(offset)
            alarms = [line for line in handle.read().decode(errors="replace").splitlines()
                      if any(alarm in line for alarm in ALARMS)]
        assert not alarms, f"{log.name}: " + "\n".join(alarms[:10])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    found = config.stash.get(TALLY, None)
    if found is not None and found.cases:
        for line in found.report():
            terminalreporter.write_line(line)
