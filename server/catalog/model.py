"""Plain, immutable records of the catalog: public models, the deployments that serve them, and when.

A public model (what callers name) lists its deployments in order of preference (the first live one
serves, the other live ones are its fallbacks, README "Fallbacks and circuit breakers"); a deployment is
one upstream model at one provider, with the words the public parameters are said in there, what
the provider charges us, and its lifecycle: from `shutdown_on` on (or once the upstream says the
model is gone), traffic moves to its `successor`, another deployment of the same public model.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from server.catalog.pricing import Price

Param = str | int | float | bool


@dataclass(frozen=True)
class CustomSizes:
    kind: str  # "grid" | "nearest_of" | "exact"
    step: int = 0
    min_side: int = 0
    max_side: int = 0
    deliverable: tuple[tuple[int, int], ...] = ()
    # "exact": any WxH on the step grid within these bounds is made as asked, anything else is refused.
    max_ratio: float = 0.0
    min_pixels: int = 0
    max_pixels: int = 0


@dataclass(frozen=True)
class Lifecycle:
    deprecated_on: dt.date | None = None
    shutdown_on: dt.date | None = None
    successor: str | None = None  # a deployment id
    # Where the dates (and the deployment's facts) come from: provider pages, for whoever checks them.
    sources: tuple[str, ...] = ()

    def shut_by(self, day: dt.date) -> bool:
        return self.shutdown_on is not None and day >= self.shutdown_on

    def deprecated_by(self, day: dt.date) -> bool:
        return self.deprecated_on is not None and day >= self.deprecated_on


@dataclass(frozen=True)
class EditRoute:
    """How a deployment edits: the upstream model that takes input images (and a mask, when `mask`)."""

    upstream_model: str
    max_images: int = 1
    mask: bool = False
    # None: the deployment's own upstream price.
    upstream_price: Price | None = None
    params: dict[str, Param] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Deployment:
    """Where a public model is really generated, and how its parameters are said there.

    Maps are public value -> upstream value. A quality or style without a map is not sent (the
    upstream's default applies); a size without a map is requested as delivered. When a mapped
    size differs, the image is resized locally to the public size.
    """

    id: str
    model: str  # the public model it serves
    provider: str
    upstream_model: str
    upstream_price: Price
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    quality: dict[str, str] = field(default_factory=dict, hash=False)
    style: dict[str, str] = field(default_factory=dict, hash=False)
    size: dict[str, str] = field(default_factory=dict, hash=False)
    params: dict[str, Param] = field(default_factory=dict, hash=False)
    # Image-conditioned edits (input images, a mask where `mask`), and masked inpainting where a
    # separate upstream model does it (BFL Fill, Stability inpaint, Ideogram inpaint); None: cannot.
    edit: EditRoute | None = None
    inpaint: EditRoute | None = None
    # The upstream streams partial images (gpt-image); others send only the completed event.
    stream: bool = False
    # Which of its provider's regional endpoints serves it (BFL: "eu", "us"); None: the provider's
    # default base URL. The provider's plugin declares the regions it has.
    region: str | None = None

    @property
    def max_input_images(self) -> int:
        return max(self.edit.max_images if self.edit else 0, 1 if self.inpaint else 0)

    @property
    def takes_mask(self) -> bool:
        return bool(self.inpaint or (self.edit and self.edit.mask))

    @property
    def needs_mask(self) -> bool:
        """Only masked edits: the upstream inpaints and has no image-conditioned edit."""
        return self.inpaint is not None and self.edit is None

    def edit_route(self, masked: bool) -> EditRoute | None:
        if masked and not (self.edit and self.edit.mask):
            return self.inpaint
        return self.edit


@dataclass(frozen=True)
class ModelSpec:
    id: str
    created: int
    max_n: int
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    styles: tuple[str, ...]
    price: Price  # what we bill, whichever deployment delivers
    # Deployment ids in order: the first live one serves, the live ones after it are its fallbacks.
    deployments: tuple[str, ...]
    custom_sizes: CustomSizes | None = None
    sources: tuple[str, ...] = ()
    # gpt-image parameters: what each model takes (a value outside these is a 400 naming the param).
    # Output formats we can always honour (converting locally), so every model takes all three.
    output_formats: tuple[str, ...] = ("png", "jpeg", "webp")
    backgrounds: tuple[str, ...] = ("auto", "opaque")
    moderation: tuple[str, ...] = ()
    input_fidelity: tuple[str, ...] = ()
    size_auto: bool = False
    # Variations are edits of the one input image with this prompt; None: no variations.
    variation_prompt: str | None = None
    # What edits bill, where it differs from `price` (an inpainting upstream may charge more than the
    # model's generations): edits and variations bill `edit_price`, masked edits `inpaint_price` first.
    edit_price: Price | None = None
    inpaint_price: Price | None = None
    # What an absent response_format means: `url` for the seed ids; `b64_json` for gpt-image models, as
    # OpenAI answers them (code written against OpenAI reads data[0].b64_json).
    default_response_format: str = "url"

    def price_for(self, kind: str, masked: bool) -> Price:
        if kind == "generation":
            return self.price
        if masked and self.inpaint_price is not None:
            return self.inpaint_price
        return self.edit_price or self.price

    @property
    def default_quality(self) -> str:
        return self.qualities[0]

    @property
    def default_style(self) -> str | None:
        return self.styles[0] if self.styles else None


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelSpec]
    deployments: dict[str, Deployment] = field(default_factory=dict)
    default_model: str = "dall-e-3"

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)

    def primary(self, model: ModelSpec) -> Deployment:
        return self.deployments[model.deployments[0]]
