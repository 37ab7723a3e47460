"""Log output of both processes: the usual text lines, or (PERF_LOG_FORMAT=json) one JSON object per line.

A line that carries structured fields passes them as `extra={"fields": {...}}`; the JSON form puts
them at the top level beside `ts`, `level`, `logger` and `msg`, so a log pipeline can filter on
`request_id` or `outcome` without parsing the message. The text form prints the message alone (the
access lines already say `key=value` in it), so text output is what it always was.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import orjson

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# What a LogRecord carries anyway: everything else in its __dict__ came in through `extra`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def log_format(value: str | None) -> str:
    """PERF_LOG_FORMAT, checked: a typo must fail at start, not silently log text."""
    chosen = (value or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"PERF_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {value!r}")
    return chosen


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (tracebacks included, as a string field)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name != "fields" and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a value no encoder knows (a Path, an exception) must not lose the whole line.
        return orjson.dumps(entry, default=str).decode()


def configure_logging(fmt: str, level: str = "INFO") -> None:
    """The root logger's one handler, on stderr, in the chosen format."""
    # Neither format prints where a line was logged from or which thread or process logged it, and
    # finding that out costs every record a walk up the stack and three lookups: at the default INFO
    # the server's access line cost ~0.17 M instructions per request, 7 % of a small generation's
    # work (bench.instructions with PERF_LOG_LEVEL=INFO). The logging HOWTO's "Optimization" section
    # names these switches for that.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
