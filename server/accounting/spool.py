"""Ledger rows the store could not take, kept durably on local disk until it can.

When the database fails between settling a request's money and writing its ledger row, the row
must not be lost: the response is about to leave and the upstream has charged. The spool appends
the row as one JSON line to a segment file under PERF_DATA_DIR/ledger-spool/ and fsyncs it before
the response goes; `replay` later inserts every spooled row into the store, which ignores a row
id it already holds, so a row lands exactly once however often replay runs or is interrupted.

Segments are named by host and process, and the appender holds an exclusive flock on its open
segment, so replay (in this process or another one sharing the directory) only ever consumes
segments nobody is writing to. A line cut short by a crash is skipped with an error log.
"""
from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import logging
import os
import socket
import threading
from pathlib import Path
from typing import IO, Protocol

import orjson

from server.database.records import LedgerEntry

log = logging.getLogger("perf.accounting")


class LedgerWriter(Protocol):
    async def record(self, entry: LedgerEntry) -> None: ...


class LedgerSpool:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.Lock()  # appends run in worker threads
        self._segment: IO[bytes] | None = None
        self._sequence = 0
        self._prefix = f"{socket.gethostname()}-{os.getpid()}-"

    async def put(self, entry: LedgerEntry) -> None:
        """Append `entry` and fsync it; returns only once the row is on disk."""
        line = orjson.dumps(dataclasses.asdict(entry)) + b"\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        with self._lock:
            if self._segment is None:
                self._segment = self._open_segment()
            self._segment.write(line)
            self._segment.flush()
            os.fsync(self._segment.fileno())

    def _open_segment(self) -> IO[bytes]:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        path = self._dir / f"{self._prefix}{self._sequence}.jsonl"
        segment = open(path, "ab")  # held open across appends, closed by _rotate
        fcntl.flock(segment.fileno(), fcntl.LOCK_EX)
        # The new name must survive a crash too, not only the bytes written into it.
        directory = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return segment

    def _rotate(self) -> None:
        """Close the open segment, so replay may take it; the next append starts a new one."""
        with self._lock:
            if self._segment is not None:
                self._segment.close()  # releases its flock
                self._segment = None

    def pending(self) -> bool:
        return self._dir.is_dir() and any(self._dir.glob("*.jsonl"))

    async def replay(self, store: LedgerWriter) -> int:
        """Insert every spooled row that nobody is still appending to; returns how many rows were sent.

        Stops at the first store failure (the segment stays for the next round)."""
        await asyncio.to_thread(self._rotate)
        sent = 0
        for path in sorted(self._dir.glob("*.jsonl")) if self._dir.is_dir() else ():
            claimed = await asyncio.to_thread(_claim, path)
            if claimed is None:
                continue  # another process is appending to it
            try:
                for entry in _entries(path, claimed):
                    await store.record(entry)
                    sent += 1
                path.unlink()
                log.warning("replayed ledger spool segment %s into the store", path.name)
            finally:
                claimed.close()
        return sent


def _claim(path: Path) -> IO[bytes] | None:
    try:
        handle = open(path, "rb")  # closed by replay
    except FileNotFoundError:
        return None  # replayed meanwhile by another process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _entries(path: Path, handle: IO[bytes]) -> list[LedgerEntry]:
    entries = []
    for number, line in enumerate(handle.read().splitlines(), 1):
        try:
            entries.append(LedgerEntry(**orjson.loads(line)))
        except (orjson.JSONDecodeError, TypeError) as error:
            log.error("ledger spool %s line %d is unreadable and was skipped: %s", path.name, number, error)
    return entries
