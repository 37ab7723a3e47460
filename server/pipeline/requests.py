"""A request after validation, whatever its kind: the one record the pipeline, routing and accounting read."""
from __future__ import annotations

from dataclasses import dataclass

from server.catalog import ModelSpec
from server.catalog.sizes import format_size

GENERATION = "generation"


@dataclass(frozen=True)
class ImageRequest:
    kind: str
    prompt: str
    model: ModelSpec
    n: int
    requested_size: str
    width: int
    height: int
    quality: str
    style: str | None
    response_format: str
    user: str
    unit_price_micros: int
    # The caller's own ceiling (USD), kept so a retry with another ceiling is another request.
    max_cost_per_call: float | None = None

    @property
    def size(self) -> str:
        """The size that will be delivered (reported as perf.size)."""
        return format_size(self.width, self.height)

    @property
    def cost_micros(self) -> int:
        return self.unit_price_micros * self.n
