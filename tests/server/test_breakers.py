"""The circuit breaker of one deployment on an injected clock: when it opens, how long it stays open, the
one probe of a half-open breaker, the error-rate window, outcomes that arrive late, and its settings."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.pipeline.breakers import CLOSED, HALF_OPEN, OPEN, PROBE_RETRY_AFTER_S, Breakers, BreakerSettings, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breakers(**settings: float) -> tuple[Breakers, Clock]:
    clock = Clock()
    return Breakers(BreakerSettings(**settings), clock), clock  # type: ignore[arg-type]


def call(b: Breakers, ok: bool, deployment: str = "d") -> None:
    ticket = b.admit(deployment)
    assert isinstance(ticket, Ticket), ticket
    ticket.succeeded() if ok else ticket.failed()


def test_consecutive_failures_open_it_for_the_cool_down_then_one_probe_half_opens_it(
        caplog: pytest.LogCaptureFixture) -> None:
    b, clock = breakers(failures=3, cooldown_s=30, min_calls=100)
    caplog.set_level(logging.INFO, "perf.breakers")
    call(b, False, "flux-dev/bfl")
    call(b, False, "flux-dev/bfl")
    call(b, True, "flux-dev/bfl")  # a success in between resets the run
    call(b, False, "flux-dev/bfl")
    call(b, False, "flux-dev/bfl")
    assert b.view("flux-dev/bfl") == (CLOSED, 0.0)
    call(b, False, "flux-dev/bfl")
    assert b.view("flux-dev/bfl") == (OPEN, 30.0)
    clock.now += 12
    assert b.admit("flux-dev/bfl") == 18.0  # skipped, with the time left
    assert b.view("other/deployment") == (CLOSED, 0.0)  # per deployment
    clock.now += 18
    assert b.view("flux-dev/bfl") == (HALF_OPEN, 0.0)
    probe = b.admit("flux-dev/bfl")
    assert isinstance(probe, Ticket) and probe.probe
    assert b.admit("flux-dev/bfl") == PROBE_RETRY_AFTER_S  # only one call in flight while half-open
    probe.succeeded()
    assert b.view("flux-dev/bfl") == (CLOSED, 0.0)
    call(b, False, "flux-dev/bfl")
    call(b, False, "flux-dev/bfl")
    assert b.view("flux-dev/bfl")[0] == CLOSED  # the counts started again when it closed
    opened = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert opened == ["circuit breaker open deployment=flux-dev/bfl: 3 failures in a row; skipped for 30s"]
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.levelno == logging.INFO] == [
        "circuit breaker half_open deployment=flux-dev/bfl", "circuit breaker closed deployment=flux-dev/bfl"]


def test_a_failed_probe_opens_it_again_and_an_abandoned_one_lets_the_next_call_probe() -> None:
    b, clock = breakers(failures=1, cooldown_s=10)
    call(b, False)
    clock.now += 10
    probe = b.admit("d")
    assert isinstance(probe, Ticket)
    probe.failed()
    assert b.view("d") == (OPEN, 10.0)
    clock.now += 10
    abandoned = b.admit("d")
    assert isinstance(abandoned, Ticket) and abandoned.probe
    abandoned.abandoned()  # the caller hung up: it says nothing about the upstream
    assert b.view("d") == (HALF_OPEN, 0.0)
    second = b.admit("d")
    assert isinstance(second, Ticket) and second.probe
    second.succeeded()
    second.failed()  # a ticket is settled once
    assert b.view("d") == (CLOSED, 0.0)


def test_an_error_rate_over_the_window_opens_it_and_old_calls_fall_out_of_the_window() -> None:
    b, clock = breakers(failures=100, error_rate=0.5, min_calls=4, window_s=60, cooldown_s=5)
    for ok in (False, True, False):
        call(b, ok)
        clock.now += 1
    assert b.view("d")[0] == CLOSED  # 2 of 3: too few calls to judge
    clock.now += 60  # those three leave the window
    for ok in (True, True, False):
        call(b, ok)
    assert b.view("d")[0] == CLOSED  # 1 of 3 in the window
    call(b, False)
    assert b.view("d") == (OPEN, 5.0)  # 2 of 4 failed


def test_outcomes_of_calls_admitted_before_a_transition_do_not_count_after_it() -> None:
    b, clock = breakers(failures=2, cooldown_s=10)
    early = b.admit("d")
    assert isinstance(early, Ticket)
    call(b, False)
    call(b, False)
    assert b.view("d")[0] == OPEN
    early.succeeded()  # late: it may not close an open breaker
    assert b.view("d")[0] == OPEN
    clock.now += 10
    probe = b.admit("d")
    assert isinstance(probe, Ticket)
    late = Ticket(b.for_deployment("d"), early.epoch, probe=True)
    late.failed()  # a stale probe of an earlier half-open period
    assert b.view("d") == (HALF_OPEN, PROBE_RETRY_AFTER_S)
    probe.succeeded()
    assert b.view("d")[0] == CLOSED


def test_settings_from_the_environment_and_the_test_clock_file(tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("50")
    settings = BreakerSettings.from_env({"PERF_BREAKER_FAILURES": "2", "PERF_BREAKER_ERROR_RATE": "0.9",
                                         "PERF_BREAKER_MIN_CALLS": "20", "PERF_BREAKER_WINDOW_SECONDS": "120",
                                         "PERF_BREAKER_COOLDOWN_SECONDS": "7",
                                         "PERF_BREAKER_CLOCK_FILE": str(clock_file)})
    assert (settings.failures, settings.error_rate, settings.min_calls, settings.window_s, settings.cooldown_s) == \
        (2, 0.9, 20, 120.0, 7.0)
    b = Breakers(settings)
    call(b, False)
    call(b, False)
    assert b.view("d") == (OPEN, 7.0)
    clock_file.write_text("57")
    assert b.view("d") == (HALF_OPEN, 0.0)
    assert BreakerSettings.from_env({}) == BreakerSettings()
    for bad in ({"PERF_BREAKER_FAILURES": "0"}, {"PERF_BREAKER_ERROR_RATE": "1.5"},
                {"PERF_BREAKER_WINDOW_SECONDS": "0"}, {"PERF_BREAKER_COOLDOWN_SECONDS": "-1"}):
        with pytest.raises(ValueError, match="breaker settings"):
            BreakerSettings.from_env(bad)
