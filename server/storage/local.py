"""A local directory of generated images, named by random ids so no client input is ever a path."""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from contract.image_urls import IMAGE_ID
from server.storage.mime import EXTENSIONS, MIME_BY_EXTENSION, sniff_image_type


class LocalImageStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> tuple[str, str]:
        """Store `data`; returns (image id, extension). Blocking: call from a worker thread."""
        mime = sniff_image_type(data)
        if mime is None:
            raise ValueError("refusing to store bytes that are not a PNG, JPEG or WebP image")
        image_id = "img_" + secrets.token_hex(16)
        ext = EXTENSIONS[mime]
        # Written in place (no temp file and rename): nobody can ask for this id before its URL is
        # handed out, which happens only after the write returns; "x" refuses to reuse a name.
        with open(self._root / f"{image_id}.{ext}", "xb") as fh:
            fh.write(data)
        return image_id, ext

    def get(self, image_id: str, ext: str) -> tuple[bytes, str] | None:
        """(bytes, detected mime) or None; ids and extensions are checked by pattern, never trusted."""
        if not IMAGE_ID.fullmatch(image_id) or ext not in MIME_BY_EXTENSION:
            return None
        try:
            data = (self._root / f"{image_id}.{ext}").read_bytes()
        except FileNotFoundError:
            return None
        mime = sniff_image_type(data)
        return (data, mime) if mime is not None else None

    def sweep(self, older_than_s: float, now: float | None = None) -> int:
        """Delete images older than `older_than_s`; returns how many."""
        cutoff = (time.time() if now is None else now) - older_than_s
        removed = 0
        with os.scandir(self._root) as entries:
            for entry in entries:
                try:
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue  # another replica's sweeper got there first
        return removed
