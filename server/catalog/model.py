"""Plain, immutable records describing the public models and what each image costs."""
from __future__ import annotations

from dataclasses import dataclass, field

ANY_SIZE = "any"
Param = str | int | float | bool


@dataclass(frozen=True)
class CustomSizes:
    kind: str  # "grid" | "nearest_of"
    step: int = 0
    min_side: int = 0
    max_side: int = 0
    deliverable: tuple[tuple[int, int], ...] = ()



@dataclass(frozen=True)
class Deployment:
    """Where a public model is really generated, and how its parameters are said there.

    Maps are public value -> upstream value. A quality or style without a map is not sent (the
    upstream's default applies); a size without a map is requested as delivered. When a mapped
    size differs, the image is resized locally to the public size.
    """

    upstream_model: str
    quality: dict[str, str] = field(default_factory=dict, hash=False)
    style: dict[str, str] = field(default_factory=dict, hash=False)
    size: dict[str, str] = field(default_factory=dict, hash=False)
    params: dict[str, Param] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ModelSpec:
    id: str
    provider: str
    created: int
    max_n: int
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    styles: tuple[str, ...]
    # (size or "any", quality) -> micro-dollars per image
    prices: dict[tuple[str, str], int] = field(hash=False)
    custom_sizes: CustomSizes | None = None
    deployment: Deployment | None = None  # the loader always sets one

    @property
    def default_quality(self) -> str:
        return self.qualities[0]

    @property
    def default_style(self) -> str | None:
        return self.styles[0] if self.styles else None

    def price_micros(self, size: str, quality: str) -> int:
        """Price of one image of the delivered `size` at `quality`; the catalog guarantees one exists."""
        exact = self.prices.get((size, quality))
        return exact if exact is not None else self.prices[(ANY_SIZE, quality)]


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelSpec]
    default_model: str = "dall-e-3"

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)
