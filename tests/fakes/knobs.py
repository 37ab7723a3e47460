"""Knobs that tests turn between requests, and the log of generations the fakes "billed".

One ``Knobs`` instance and one ``ChargeLog`` are handed to an app factory; the app reads the knobs on
every request, so a test can change them at any time (a fake run by ``FakeServer`` reads them from its
own thread; plain attribute writes are atomic enough for that).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Knobs:
    # Delay before every request to the fake is answered (API calls, polls and image downloads).
    latency_s: float = 0
    # The next N generation requests get 429 with Retry-After (Google: RetryInfo in the body instead).
    rate_limit_next: int = 0
    retry_after_s: float = 1
    # The next N generation requests get a 5xx and nothing is charged (the upstream did no work).
    fail_before_charge_next: int = 0
    # The next N generation requests are charged, then answered with a 5xx: the dangerous case where
    # a blind retry pays twice.
    fail_after_charge_next: int = 0
    # The prompt is refused up front, in the provider's own form (never charged).
    moderate_input: bool = False
    # Indexes of output images the provider filters, in the provider's own form. For providers that
    # make one image per call (Stability, BFL) the index is the 0-based ordinal of the charged
    # generation calls this app has seen, so a fan-out of 4 calls with {1} filters exactly one of them
    # (which one is arbitrary when the calls run concurrently).
    moderate_output_indexes: set[int] = field(default_factory=set)
    # The next N generation responses are 200 with a truncated body. They are charged: the upstream
    # did the work and the body was cut off in transit.
    malformed_body_next: int = 0
    # The next N generations are charged and answered 200 with no image in them (fal `images: []`,
    # Replicate `output: null`, Together `data: []`): the success that is not one.
    empty_output_next: int = 0
    # Image download URLs served by the fake answer 302 to this location (e.g. a private address).
    redirect_image_to: str | None = None
    # Image download URLs stream bytes forever (until the client hangs up).
    endless_image_body: bool = False
    expected_api_key: str = "test-key"
    # BFL, fal, Replicate: number of polls answered as still running before a task reaches its terminal
    # status (Replicate: 0 lets `Prefer: wait` answer the finished prediction at once).
    polls_before_ready: int = 1
    # BFL, fal, Replicate: the next N accepted tasks fail after acceptance (charged at submit).
    task_error_next: int = 0
    # Lifetime of signed image URLs; None = the provider's real lifetime (OpenAI 60 min, BFL 10 min).
    image_url_ttl_s: float | None = None
    # Share of each generated image's rows filled with noise (see images.make_image): 0 gives tiny
    # flat images; benchmarks raise it for realistic payload sizes.
    image_detail: float = 0.0
    # Bytes every generated image is replaced by (OpenAI, Google): a hostile or broken upstream's
    # oversized or pixel-bomb image, inline as base64 like the real answer.
    image_override: bytes | None = None
    # Upstream models the provider has shut down: answered with its documented "model not found"
    # signal, and listed with their shutdown date where the provider lists models.
    retired_models: set[str] = field(default_factory=set)
    # BFL, fal, Replicate: origin (scheme://host:port) put in returned polling URLs instead of this fake's own, to
    # stand in for a spoofed or compromised answer that points our x-key elsewhere.
    polling_url_origin: str | None = None
    # OpenAI streaming (see openai_stream.py). Pause before each SSE event is written.
    stream_event_interval_s: float = 0
    # Partial-image events actually sent, if fewer than requested ("the final image may be sent before
    # the full number of partial images"); None sends as many as the request asked for.
    stream_partials_sent: int | None = None
    # The next N streams are charged, then end with an `event: error` frame instead of the completed one.
    stream_fail_next: int = 0
    # The next N streams are charged, then the connection is cut after the partial images (no completed
    # event, no terminating chunk): what a client sees when the upstream dies mid-stream.
    stream_drop_next: int = 0
    # Streams are refused by output moderation after their partial images: the moderation_blocked error
    # frame comes where the completed event would, and nothing is charged.
    stream_moderate_after_partials: bool = False

    def take(self, counter: str) -> bool:
        """Consume one unit of a ``*_next`` counter; True if it was armed."""
        left = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
            return True
        return False


@dataclass(frozen=True)
class Charge:
    provider: str
    model: str
    n: int  # images billed by this one upstream call
    request_id: str
    # What the call cost at the provider's list price, by the fake's own price table (micro-dollars).
    micros: int = 0


class ChargeLog(list[Charge]):
    """Every generation a fake billed, in order; tests count real spend from it."""

    def add(self, provider: str, model: str, n: int, request_id: str, micros: int = 0) -> None:
        self.append(Charge(provider, model, n, request_id, micros))

    def images(self, provider: str | None = None) -> int:
        """Total images billed (optionally for one provider)."""
        return sum(c.n for c in self if provider is None or c.provider == provider)

    def micros(self, provider: str | None = None) -> int:
        """Total list-price cost of what was billed (optionally for one provider)."""
        return sum(c.micros for c in self if provider is None or c.provider == provider)
