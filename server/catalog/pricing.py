"""The three price models, for what we bill and for what an upstream charges us, in integer micro-dollars.

    PerImage      a price per image by (size or "any", quality)            seed models, Stability, Ideogram
    PerMegapixel  first megapixel + each further started megapixel of
                  output, + each started megapixel of input images         FLUX.2
                  (a megapixel is 1024x1024 pixels)
    PerToken      USD per million text-input, image-input, image-output
                  (and text-output) tokens                                 gpt-image, Gemini image models

Every price model answers two questions. `estimate(work)` is the most a request can cost before it
runs (the reservation against a spend cap and the `max_cost_per_call` check use it); `settle(work,
usage)` is what it did cost once the upstream answered: for per-token prices, from the upstream's own
usage block (an absent block settles at the estimate, so a silent upstream is never billed at 0).
The per-token estimate is an upper bound by construction: a prompt never has more tokens than UTF-8
bytes, and the image-token tables in the catalog are at or above what the upstreams report.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

MICROS = 1_000_000
ANY_SIZE = "any"
# A megapixel, for per-megapixel prices: 1024x1024 pixels, so a 1024x1024 image is the one
# megapixel a provider's headline price ("$0.03 for a 1 MP image") means.
MEGAPIXEL = 1024 * 1024
# Tokens an upstream adds around the prompt (role markers, instructions): kept in every estimate.
PROMPT_OVERHEAD_TOKENS = 64


@dataclass(frozen=True)
class Work:
    """What a request asks for, as far as its price depends on it."""

    n: int
    width: int
    height: int
    quality: str
    size: str  # the delivered size, "WxH"
    prompt_bytes: int = 0
    # Input images (edits, variations): their pixel counts.
    input_pixels: tuple[int, ...] = ()

    @property
    def megapixels(self) -> float:
        return self.width * self.height / MEGAPIXEL


@dataclass(frozen=True)
class TokenUsage:
    """Tokens an upstream reports having used for one request (all images together)."""

    text_input: int = 0
    image_input: int = 0
    image_output: int = 0
    text_output: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.text_input + other.text_input, self.image_input + other.image_input,
                          self.image_output + other.image_output, self.text_output + other.text_output)

    @property
    def input_tokens(self) -> int:
        return self.text_input + self.image_input

    @property
    def output_tokens(self) -> int:
        return self.image_output + self.text_output


def _per_million(tokens: int, micros_per_million: int) -> int:
    # Round up: a fraction of a micro-dollar is billed as one, never given away.
    return -(-tokens * micros_per_million // MICROS)


@dataclass(frozen=True)
class PerImage:
    prices: dict[tuple[str, str], int] = field(hash=False)
    # Edit prices only: a surcharge per started megapixel of each input image, for upstreams that bill
    # input images (gpt-image's image tokens), so sixteen inputs cannot cost us more than we bill.
    input_mp: int = 0

    kind = "per_image"

    def unit(self, size: str, quality: str) -> int:
        exact = self.prices.get((size, quality))
        return exact if exact is not None else self.prices[(ANY_SIZE, quality)]

    def covers(self, size: str, quality: str) -> bool:
        return (size, quality) in self.prices or (ANY_SIZE, quality) in self.prices

    def inputs(self, work: Work) -> int:
        return sum(math.ceil(round(p / MEGAPIXEL, 6)) * self.input_mp for p in work.input_pixels)

    def estimate(self, work: Work) -> int:
        return (self.unit(work.size, work.quality) + self.inputs(work)) * work.n

    def settle(self, work: Work, delivered: int, usage: TokenUsage | None = None) -> int:
        return (self.unit(work.size, work.quality) + self.inputs(work)) * delivered


@dataclass(frozen=True)
class PerMegapixel:
    first_mp: int
    extra_mp: int
    input_mp: int = 0

    kind = "per_megapixel"

    def one_image(self, work: Work) -> int:
        started = max(1, math.ceil(round(work.megapixels, 6)))
        return self.first_mp + (started - 1) * self.extra_mp

    def inputs(self, work: Work) -> int:
        return sum(math.ceil(round(p / MEGAPIXEL, 6)) * self.input_mp for p in work.input_pixels)

    def estimate(self, work: Work) -> int:
        # Input images are sent (and charged) once per image generated.
        return (self.one_image(work) + self.inputs(work)) * work.n

    def settle(self, work: Work, delivered: int, usage: TokenUsage | None = None) -> int:
        return (self.one_image(work) + self.inputs(work)) * delivered


@dataclass(frozen=True)
class TokenEstimate:
    """Upper bounds of the tokens one image costs, from the catalog."""

    # Image-output tokens per output megapixel by quality (gpt-image scales with area) ...
    output_per_megapixel: dict[str, int] = field(default_factory=dict, hash=False)
    # ... or per image, stepping by output megapixels: ((up to MP, tokens), ...) (Gemini's 1K/2K/4K).
    output_per_image: tuple[tuple[float, int], ...] = ()
    input_per_megapixel: int = 0
    text_output: int = 0

    def image_output(self, work: Work) -> int:
        if self.output_per_megapixel:
            per_mp = self.output_per_megapixel.get(work.quality, max(self.output_per_megapixel.values()))
            return math.ceil(per_mp * work.megapixels)
        for up_to, tokens in self.output_per_image:
            if work.megapixels <= up_to:
                return tokens
        return self.output_per_image[-1][1] if self.output_per_image else 0

    def usage(self, work: Work) -> TokenUsage:
        return TokenUsage(
            text_input=work.prompt_bytes + PROMPT_OVERHEAD_TOKENS,
            image_input=sum(math.ceil(self.input_per_megapixel * p / MEGAPIXEL) for p in work.input_pixels),
            image_output=self.image_output(work) * work.n,
            text_output=self.text_output)


@dataclass(frozen=True)
class PerToken:
    text_input: int  # micro-dollars per million tokens
    image_input: int
    image_output: int
    text_output: int = 0
    estimate_tokens: TokenEstimate = field(default_factory=TokenEstimate)

    kind = "per_token"

    def cost(self, usage: TokenUsage) -> int:
        return (_per_million(usage.text_input, self.text_input) + _per_million(usage.image_input, self.image_input)
                + _per_million(usage.image_output, self.image_output)
                + _per_million(usage.text_output, self.text_output))

    def estimate(self, work: Work) -> int:
        return self.cost(self.estimate_tokens.usage(work))

    def settle(self, work: Work, delivered: int, usage: TokenUsage | None = None) -> int:
        if usage is None:  # the upstream did not say: the estimate, for what was delivered
            return self.estimate(replace(work, n=delivered))
        return self.cost(usage)


Price = PerImage | PerMegapixel | PerToken
