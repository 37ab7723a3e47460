"""The one seam between the service and every upstream: a job in, images out.

Adapters import nothing from generated code; the service converts proto to these records.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from server.catalog.pricing import TokenUsage

# A fixed upstream parameter from the catalog's deployment table (TOML scalars).
Param = str | int | float | bool


@dataclass(frozen=True)
class GeneratedImage:
    """An image and what its header says: what an adapter returns, and what callers send to edit."""

    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class PartialImage:
    """A partial image an upstream streamed before the final one (gpt-image `partial_images`)."""

    image: GeneratedImage
    index: int  # 0-based


# What a submit-then-poll upstream needs to find an accepted task again (BFL: its id and polling_url).
Handle = dict[str, str]


@dataclass(frozen=True)
class Resumption:
    """An async job's upstream tasks across workers (server/jobs/).

    An adapter whose upstream can be polled later calls `on_accepted(task, handle)` as soon as task
    number `task` (0 .. n-1) is accepted, before it waits for the result. A job taken over from a worker
    that stopped carries the handles saved by then as `saved`: the adapter polls those and never submits
    again; a task with no saved handle may have been accepted unseen, so it is a failure, not a resubmit.
    """

    on_accepted: Callable[[int, Handle], Awaitable[None]]
    saved: Mapping[int, Handle] | None = None  # None: a fresh run

    @property
    def resuming(self) -> bool:
        return self.saved is not None


@dataclass(frozen=True)
class GenerationJob:
    prompt: str
    model: str  # the public model id
    upstream_model: str
    n: int
    width: int
    height: int
    quality: str
    style: str | None
    seed: int | None = None
    # Fixed upstream parameters from the deployment (e.g. output_format, safety_tolerance).
    extras: dict[str, Param] = field(default_factory=dict, hash=False)
    # The size to ask the upstream for when it cannot make width x height itself; the images are
    # then conformed locally to width x height, so the delivered size is always the promised one.
    upstream_size: tuple[int, int] | None = None
    # time.monotonic() by which the adapter must have answered (None: the adapter's own default).
    deadline: float | None = None
    # "generation" | "edit" (variations are edits); edits carry their input images and the mask of
    # the first in OpenAI's convention (fully transparent = edit here), which each adapter converts.
    kind: str = "generation"
    images: tuple[GeneratedImage, ...] = ()
    mask: GeneratedImage | None = None
    # gpt-image parameters, for adapters whose upstream takes them (the pipeline converts the output
    # format itself where an upstream cannot); None: not asked for.
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    # `size: auto`: the upstream chooses; the image is not conformed to width x height.
    size_auto: bool = False
    # The deployment's regional endpoint (catalog `region`), for providers that have them; None: the default.
    region: str | None = None
    # Streamed requests: how many partial images to ask for, and where to send them as they arrive.
    partial_images: int = 0
    on_partial: Callable[[PartialImage], Awaitable[None]] | None = field(default=None, compare=False, hash=False)
    # Async jobs: where to report resumable handles, and those to resume (see Resumption); None otherwise.
    resumption: Resumption | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class GenerationResult:
    images: tuple[GeneratedImage, ...]
    revised_prompt: str
    model_used: str
    upstream_request_id: str | None = None
    # What the upstream says it charged (BFL's `cost`), when it says.
    upstream_cost_micros: int | None = None
    # Images the upstream generated but withheld (moderation); never billed by us.
    filtered: int = 0
    # Images the upstream charged us for, when that differs from those delivered (some bill the
    # ones their moderation withheld); None: the images delivered.
    charged_images: int | None = None
    # Tokens the upstream reports for what was delivered (gpt-image `usage`, Gemini `usageMetadata`),
    # and for everything it charged when that is more (Gemini bills a call whose image it withheld).
    usage: TokenUsage | None = None
    charged_usage: TokenUsage | None = None
    # The background the upstream says it made (gpt-image reports "transparent" | "opaque").
    background: str | None = None


@dataclass(frozen=True)
class UpstreamModel:
    """One entry of an upstream's own model listing (for `python -m server.catalog check --live`)."""

    id: str
    shutdown_date: str | None = None  # YYYY-MM-DD, where the upstream announces one


class ModelLister(Protocol):
    """A provider that can list its upstream's models (declared by Capabilities.list_models)."""

    async def list_models(self) -> list[UpstreamModel]: ...


class Provider(Protocol):
    name: str

    async def generate(self, job: GenerationJob) -> GenerationResult:
        """Generate `job.n` images; raise a server.errors.PerfError on any failure."""
        ...
