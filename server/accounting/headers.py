"""Rate-limit state as response metadata; the gateway forwards `x-ratelimit-*` as HTTP headers."""
from __future__ import annotations

from server.accounting.holds import WINDOW_STATES


def rate_limit_metadata() -> tuple[tuple[str, str], ...]:
    states = WINDOW_STATES.get()
    if not states:
        return ()
    metadata: list[tuple[str, str]] = []
    for state in states:
        metadata += [(f"x-ratelimit-limit-images-{state.name}", str(state.limit)),
                     (f"x-ratelimit-remaining-images-{state.name}", str(state.remaining)),
                     (f"x-ratelimit-reset-images-{state.name}", str(state.reset_s))]
    return tuple(metadata)
