"""The one interface every image store implements, and what is shared by all of them.

    ImageStore            put / open / sweep / check / close       (local.py, s3.py)
      open() → ObjectBody  raw bytes read in pieces, never the whole object at once
    open_image()          checks the name, opens, sniffs the first piece → ImageStream | None

Names are `img_<32 hex>.<ext>`, chosen by us, checked by pattern before any store sees them, so no
client input ever becomes a path or an object key. A store that cannot be reached raises
StorageUnavailable (or its client's own connection errors, which server/runtime/outages.py knows).
"""
from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from contract.image_urls import IMAGE_ID
from server.storage.mime import MIME_BY_EXTENSION, sniff_image_type

OBJECT_NAME = re.compile(IMAGE_ID.pattern + r"\.(png|jpg|webp)")
# One gRPC message per piece: small enough that a stream never needs a large message limit or a
# large buffer, big enough that a multi-MB image is a handful of messages.
CHUNK_BYTES = 256 * 1024


class StorageUnavailable(ConnectionError):
    """The store did not answer or refused the operation (an OSError, so outages.backend maps it to 503)."""


def new_image_id() -> str:
    return "img_" + secrets.token_hex(16)


def valid_name(image_id: str, ext: str) -> bool:
    return IMAGE_ID.fullmatch(image_id) is not None and ext in MIME_BY_EXTENSION


class ObjectBody(Protocol):
    """An opened stored object. `read` returns `n` bytes, fewer only at the end, b"" after it."""

    @property
    def length(self) -> int: ...

    async def read(self, n: int) -> bytes: ...

    async def close(self) -> None: ...


class ImageStore(Protocol):
    async def put(self, data: bytes, mime: str) -> tuple[str, str]:
        """Store one image of type `mime`; returns (image id, extension)."""
        ...

    async def open(self, image_id: str, ext: str) -> ObjectBody | None:
        """The stored object, or None when there is none (expired and swept, or never made)."""
        ...

    async def sweep(self, older_than_s: float, now: float) -> int:
        """Delete images stored more than `older_than_s` before `now`; returns how many."""
        ...

    async def check(self) -> None:
        """Raise unless the store answers and could take a write (readiness)."""
        ...

    async def close(self) -> None: ...


@dataclass
class ImageStream:
    """A stored image on its way out: its type as detected from its bytes, its length, its pieces."""

    mime: str
    length: int
    first: bytes
    body: ObjectBody

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every piece in order, the already-read first one included."""
        if self.first:
            yield self.first
        while piece := await self.body.read(CHUNK_BYTES):
            yield piece

    async def close(self) -> None:
        """Always call it (in a finally): a stream given up halfway still holds a file or a connection."""
        await self.body.close()


async def open_image(store: ImageStore, image_id: str, ext: str) -> ImageStream | None:
    """The image named (id, ext), or None; its Content-Type comes from its first bytes, never a header."""
    if not valid_name(image_id, ext):
        return None
    body = await store.open(image_id, ext)
    if body is None:
        return None
    try:
        first = await body.read(CHUNK_BYTES)
    except BaseException:
        await body.close()
        raise
    mime = sniff_image_type(first)
    if mime is None:
        await body.close()
        return None
    return ImageStream(mime=mime, length=body.length, first=first, body=body)
