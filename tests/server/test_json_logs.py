"""PERF_LOG_FORMAT: the JSON form is one object per record (fields on top, tracebacks as a string); a
value other than text or json stops the process at start."""
from __future__ import annotations

import json
import logging
import sys

import pytest

from contract.logs import JsonFormatter, log_format
from server.runtime.config import ServerSettings


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord("perf.server", logging.WARNING, __file__, 1, "rpc outcome=%s", ("OK",), None)
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_json_line_with_its_fields_on_top() -> None:
    line = JsonFormatter().format(record(fields={"request_id": "req_1", "ms": 1.5, "path": object()}))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "rpc outcome=OK" and entry["level"] == "WARNING" and entry["logger"] == "perf.server"
    assert entry["request_id"] == "req_1" and entry["ms"] == 1.5
    assert entry["path"].startswith("<object")  # an unknown value is printed, not the whole line lost
    assert entry["ts"].endswith("Z")


def test_a_traceback_stays_on_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record()
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_an_unknown_format_is_refused() -> None:
    assert log_format(None) == "text" and log_format("JSON") == "json"
    assert ServerSettings.from_env({"PERF_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ValueError, match="PERF_LOG_FORMAT"):
        ServerSettings.from_env({"PERF_LOG_FORMAT": "yaml"})
