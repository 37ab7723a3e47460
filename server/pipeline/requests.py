"""A request after validation, whatever its kind: the one record the pipeline, routing and accounting read."""
from __future__ import annotations

from dataclasses import dataclass

from server.catalog import ModelSpec
from server.catalog.pricing import TokenUsage, Work
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
    # The caller's own ceiling (USD), kept so a retry with another ceiling is another request.
    max_cost_per_call: float | None = None

    @property
    def size(self) -> str:
        """The size that will be delivered (reported as perf.size)."""
        return format_size(self.width, self.height)

    @property
    def work(self) -> Work:
        """What the request asks for, as its price sees it."""
        return Work(n=self.n, width=self.width, height=self.height, quality=self.quality, size=self.size,
                    prompt_bytes=len(self.prompt.encode()))

    @property
    def estimate_micros(self) -> int:
        """The most this request can cost (reserved against a spend cap, held to max_cost_per_call)."""
        return self.model.price.estimate(self.work)

    def cost_micros(self, delivered: int, usage: TokenUsage | None) -> int:
        """What `delivered` images cost, by the model's price (per-token prices from the upstream's usage)."""
        return self.model.price.settle(self.work, delivered, usage)
