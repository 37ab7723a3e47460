"""A request after validation, whatever its kind: the one record the pipeline, routing and accounting read."""
from __future__ import annotations

from dataclasses import dataclass

from server.catalog import ModelSpec
from server.catalog.pricing import TokenUsage, Work
from server.catalog.sizes import format_size
from server.providers.base import GeneratedImage

GENERATION = "generation"
EDIT = "edit"
# A variation is an edit of one image with the model's variation prompt (catalog data).
VARIATION = "variation"


@dataclass(frozen=True)
class OutputSpec:
    """What the caller wants delivered: the image type and compression, the background, moderation."""

    format: str = "png"
    compression: int | None = None  # jpeg and webp only
    background: str = "auto"
    moderation: str | None = None


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
    output: OutputSpec = OutputSpec()
    # Edits and variations: the checked input images, and the mask of the first (transparent = edit).
    images: tuple[GeneratedImage, ...] = ()
    mask: GeneratedImage | None = None
    input_fidelity: str | None = None
    # Streamed requests: how many partial images the caller wants before the final one.
    stream: bool = False
    partial_images: int = 0
    # `size: "auto"`: the upstream chooses; width x height is then the largest it may choose.
    size_auto: bool = False

    @property
    def streamed_event(self) -> str:
        """The OpenAI stream event family: image_generation.* or image_edit.*."""
        return "image_generation" if self.kind == GENERATION else "image_edit"

    @property
    def size(self) -> str:
        """The size that will be delivered (reported as perf.size)."""
        return format_size(self.width, self.height)

    @property
    def work(self) -> Work:
        """What the request asks for, as its price sees it."""
        return Work(n=self.n, width=self.width, height=self.height, quality=self.quality, size=self.size,
                    prompt_bytes=len(self.prompt.encode()),
                    input_pixels=tuple(image.width * image.height for image in self.images))

    @property
    def estimate_micros(self) -> int:
        """The most this request can cost (reserved against a spend cap, held to max_cost_per_call)."""
        return self.model.price.estimate(self.work)

    def cost_micros(self, delivered: int, usage: TokenUsage | None) -> int:
        """What `delivered` images cost, by the model's price (per-token prices from the upstream's usage)."""
        return self.model.price.settle(self.work, delivered, usage)
