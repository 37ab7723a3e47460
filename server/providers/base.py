"""The one seam between the service and every upstream: a job in, images out.

Adapters import nothing from generated code; the service converts proto to these records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


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
    extras: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class GenerationResult:
    images: tuple[GeneratedImage, ...]
    revised_prompt: str
    model_used: str
    upstream_request_id: str | None = None
    upstream_cost_micros: int | None = None
    # Images the upstream generated but withheld (moderation); never billed.
    filtered: int = 0


class Provider(Protocol):
    name: str

    async def generate(self, job: GenerationJob) -> GenerationResult:
        """Generate `job.n` images; raise a server.errors.PerfError on any failure."""
        ...
