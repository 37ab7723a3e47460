"""How long generations of each model take here, lately: an exponentially weighted mean per model.

Used to tell a caller who retries too early how long the request it collides with should still
run (Idempotency-Key 409s), instead of a constant.
"""
from __future__ import annotations

# Weight of the newest observation: about the last ten generations shape the estimate.
ALPHA = 0.2


class LatencyEstimates:
    def __init__(self) -> None:
        self._mean_s: dict[str, float] = {}

    def observe(self, model: str, seconds: float) -> None:
        previous = self._mean_s.get(model)
        self._mean_s[model] = seconds if previous is None else previous + ALPHA * (seconds - previous)

    def expected_s(self, model: str) -> float | None:
        return self._mean_s.get(model)
