"""The ledger record of one generation request, filled in as the request progresses."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from google.protobuf.message import Message

from contract import image_urls
from contract.errors import CONTROL_CHARACTERS, character_class, echo
from server.database.ids import ordered_id
from server.database.records import ApiKey, LedgerEntry, Settlement
from server.pipeline.requests import ImageRequest
from server.pipeline.routing import Route
from server.pipeline.validation import MAX_PROMPT_CHARS  # a refused longer prompt is kept cut to it
from server.storage.base import OBJECT_NAME


def storable(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, control characters replaced: safe in any store's TEXT column."""
    return echo(text[:limit], limit)


# What a prompt may hold that the other columns may not: the line breaks and tabs it was written with
# (validation admits exactly these three), so the gallery shows it as written. Every store holds them;
# the other control characters (NUL, which PostgreSQL refuses, among them) are replaced as elsewhere.
_PROMPT_CONTROL = character_class(CONTROL_CHARACTERS - {"\t", "\n", "\r"})


def storable_prompt(text: str) -> str:
    cut = text[:MAX_PROMPT_CHARS]
    return cut if cut.isprintable() else _PROMPT_CONTROL.sub("\ufffd", cut)


class HasUrl(Protocol):
    """A delivered image (pipeline.delivery.Delivered, or a pb.Image): its URL is empty when inline."""
    @property
    def url(self) -> str: ...

@dataclass
class LedgerDraft:
    id: str
    request_id: str
    key: ApiKey
    kind: str
    model: str
    n_requested: int
    size: str
    quality: str
    end_user: str
    provider: str = ""
    deployment: str = ""
    upstream_model: str = ""
    n_delivered: int = 0
    cost_micros: int = 0
    upstream_cost_micros: int = 0
    status: str = "ok"
    error_type: str = ""
    # An edit's route (None: not an edit; True: masked): which upstream model a failed edit was sent to.
    masked_edit: bool | None = None
    # For the operator's gallery (server/admin/): what was asked and which stored images answered it.
    prompt: str = ""
    images: tuple[str, ...] = ()
    # The money hold this row settles, and what it spent (written with the row: Store.record).
    settles: Settlement | None = None

    @classmethod
    def start(cls, request_id: str, key: ApiKey, kind: str, request: Message, default_model: str) -> LedgerDraft:
        """The row of a request of `kind` (generation, edit, variation) as it was asked."""
        # Raw values until validation succeeds: a refused request is recorded as it was asked, in a
        # form every store can hold (a NUL would make PostgreSQL refuse the whole row).
        def text(name: str, limit: int) -> str:
            return storable(str(getattr(request, name, "")), limit)

        model = text("model", 64) if request.HasField("model") else default_model
        # Time-ordered (and as long as the random ids before): the gallery lists rows newest first.
        return cls(id=ordered_id("led_"), request_id=request_id, key=key, kind=kind, model=model,
                   n_requested=int(getattr(request, "n", 0)), size=text("size", 32), quality=text("quality", 32),
                   end_user=text("user", 256), prompt=storable_prompt(str(getattr(request, "prompt", ""))))

    def validated(self, valid: ImageRequest) -> None:
        self.model, self.n_requested, self.size, self.quality = valid.model.id, valid.n, valid.size, valid.quality
        self.masked_edit = (valid.mask is not None) if valid.images else None

    def routed(self, route: Route) -> None:
        """Which deployment serves it (test keys: the one a live key would have used)."""
        if route.deployment is not None:
            self.provider, self.deployment = route.deployment.provider, route.deployment.id
            edit = route.deployment.edit_route(self.masked_edit) if self.masked_edit is not None else None
            self.upstream_model = edit.upstream_model if edit else route.deployment.upstream_model

    def delivered(self, images: int, cost_micros: int, upstream_model: str, upstream_cost_micros: int = 0) -> None:
        self.n_delivered, self.cost_micros, self.upstream_model = images, cost_micros, upstream_model
        self.upstream_cost_micros = upstream_cost_micros

    def stored(self, delivered: Sequence[HasUrl]) -> None:
        """The stored images' names, read back from the URLs just minted (b64_json stores none). Our
        signed URLs and a bucket's presigned ones both carry the object name in their path."""
        names = []
        for image in delivered:
            path = image.url.partition("?")[0]
            ours = image_urls.PATH.search(path)
            if ours:
                names.append(f"{ours['image_id']}.{ours['ext']}")
            elif presigned := OBJECT_NAME.search(path):
                names.append(presigned.group(0))
        self.images = tuple(names)

    def replayed(self) -> None:
        """An Idempotency-Key retry answered from the stored response: nothing generated, nothing billed."""
        self.status = "replayed"

    def failed(self, error_type: str) -> None:
        # Delivery figures stay: once images were delivered and their cost settled, a late failure
        # (the client hanging up during settlement) does not make that money unspent.
        self.status, self.error_type = "error", error_type

    def entry(self, latency_ms: int, now: float | None = None) -> LedgerEntry:
        now = time.time() if now is None else now
        return LedgerEntry(
            id=self.id, request_id=self.request_id, key_id=self.key.id, mode=self.key.mode, model=self.model,
            provider=self.provider, upstream_model=self.upstream_model, n_requested=self.n_requested,
            n_delivered=self.n_delivered, size=self.size, quality=self.quality, cost_micros=self.cost_micros,
            # Test usage is recorded at its list price and never billed.
            billed_micros=0 if self.key.is_test else self.cost_micros, latency_ms=latency_ms,
            status=self.status, error_type=self.error_type, end_user=self.end_user, created_at=int(now),
            day=time.strftime("%Y-%m-%d", time.gmtime(now)), deployment=self.deployment,
            upstream_cost_micros=self.upstream_cost_micros, kind=self.kind, prompt=self.prompt,
            images=orjson.dumps(self.images).decode() if self.images else "")
