"""The embedded default image store: a local directory (one machine, or a volume every replica mounts)."""
from __future__ import annotations

import asyncio
import os
import time
from io import BufferedReader
from pathlib import Path

from server.storage.base import OBJECT_NAME, ObjectBody, new_image_id, valid_name
from server.storage.mime import EXTENSIONS

# Writing into the page cache is fast; below ~1 MB the thread hop costs more than the write.
INLINE_WRITE_BYTES = 1024 * 1024


class LocalImageStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)

    async def put(self, data: bytes, mime: str) -> tuple[str, str]:
        image_id, ext = new_image_id(), EXTENSIONS[mime]
        path = self._root / f"{image_id}.{ext}"
        if len(data) <= INLINE_WRITE_BYTES:
            _write_new(path, data)
        else:
            await asyncio.to_thread(_write_new, path, data)
        return image_id, ext

    async def open(self, image_id: str, ext: str) -> ObjectBody | None:
        if not valid_name(image_id, ext):  # the name becomes a path: never trust a caller with it
            return None
        try:
            fh = await asyncio.to_thread(_open_for_reading, self._root / f"{image_id}.{ext}")
        except FileNotFoundError:
            return None
        return _FileBody(fh, os.fstat(fh.fileno()).st_size)

    async def sweep(self, older_than_s: float, now: float | None = None) -> int:
        return await asyncio.to_thread(self._sweep, (time.time() if now is None else now) - older_than_s)

    async def check(self) -> None:
        if not await asyncio.to_thread(os.access, self._root, os.W_OK | os.X_OK):
            raise OSError(f"the image directory {self._root} is missing or not writable")

    async def close(self) -> None:
        return None

    def _sweep(self, cutoff: float) -> int:
        removed = 0
        with os.scandir(self._root) as entries:
            for entry in entries:
                try:
                    if OBJECT_NAME.fullmatch(entry.name) and entry.is_file() and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue  # another replica's sweeper got there first
        return removed


def _write_new(path: Path, data: bytes) -> None:
    # Written in place (no temp file and rename): nobody can ask for this id before its URL is
    # handed out, which happens only after the write returns; "x" refuses to reuse a name.
    with open(path, "xb") as fh:
        fh.write(data)


def _open_for_reading(path: Path) -> BufferedReader:
    return open(path, "rb")


class _FileBody:
    def __init__(self, fh: BufferedReader, length: int) -> None:
        self._fh = fh
        self._length = length

    @property
    def length(self) -> int:
        return self._length

    async def read(self, n: int) -> bytes:
        return await asyncio.to_thread(self._fh.read, n)

    async def close(self) -> None:
        self._fh.close()
