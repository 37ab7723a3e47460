"""Fuzz fixtures: one tally for the session, printed at the end of the run (cases, violations, time)."""
from __future__ import annotations

import pytest

from tests.fuzz.budget import Tally

TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Tally:
    return request.config.stash.setdefault(TALLY, Tally())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    found = config.stash.get(TALLY, None)
    if found is not None and found.cases:
        for line in found.report():
            terminalreporter.write_line(line)
