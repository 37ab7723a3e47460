"""How many cases each fuzz target runs and with which seed, and the tally of cases and violations.

PERF_FUZZ_EXAMPLES is the total over all targets (2,400 in CI; `make fuzz` runs 20,000), shared out
by WEIGHTS. Runs are reproducible: derandomized (a fixed seed per test) unless PERF_FUZZ_SEED names
another seed. A case that breaks a property is recorded, not raised, so a run reports how many
cases broke it; each test then fails if its target recorded any.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, seed, settings

F = TypeVar("F", bound=Callable[..., Any])

TOTAL = int(os.environ.get("PERF_FUZZ_EXAMPLES", "2400"))
SEED = os.environ.get("PERF_FUZZ_SEED")
WEIGHTS = {"bodies": 0.30, "headers": 0.10, "queries": 0.08, "image paths": 0.12, "protocol": 0.15, "grpc": 0.25}
KEPT_EXAMPLES = 10


def fuzz(target: str) -> Callable[[F], F]:
    """Hypothesis settings for `target`: its share of the cases, no shrinking (nothing is raised)."""
    def apply(test: F) -> F:
        configured = settings(max_examples=max(1, round(TOTAL * WEIGHTS[target])), derandomize=SEED is None,
                              database=None, deadline=None, suppress_health_check=list(HealthCheck),
                              phases=(Phase.explicit, Phase.generate))(test)
        return seed(int(SEED))(configured) if SEED else configured  # type: ignore[no-any-return]

    return apply


@dataclass
class Tally:
    cases: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # Answers seen per target (HTTP status or gRPC code), to show the cases reach past the first check.
    answers: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, target: str, case: str, found: list[str], answer: str = "?") -> None:
        self.cases[target] = self.cases.get(target, 0) + 1
        seen = self.answers.setdefault(target, {})
        seen[answer] = seen.get(answer, 0) + 1
        if found:
            self.violations[target] = self.violations.get(target, 0) + 1
            kept = self.examples.setdefault(target, [])
            if len(kept) < KEPT_EXAMPLES:
                kept.append(f"{case[:300]} -> {'; '.join(found)[:300]}")

    @contextmanager
    def timing(self, target: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[target] = self.seconds.get(target, 0.0) + time.monotonic() - started

    def assert_clean(self, target: str) -> None:
        assert self.cases.get(target, 0) > 0, f"{target}: no case ran"
        assert not self.violations.get(target), (f"{target}: {self.violations[target]} of {self.cases[target]} cases "
                                                 "broke a property:\n" + "\n".join(self.examples[target]))

    def report(self) -> list[str]:
        seed_text = f"seed {SEED}" if SEED else "derandomized"
        lines = [f"fuzz: {sum(self.cases.values())} cases, {sum(self.violations.values())} violations, "
                 f"{sum(self.seconds.values()):.1f} s (PERF_FUZZ_EXAMPLES={TOTAL}, {seed_text})"]
        for target in self.cases:
            answers = " ".join(f"{a}x{n}" for a, n in sorted(self.answers.get(target, {}).items()))
            lines.append(f"  {target:<12} {self.cases[target]:>6} cases {self.violations.get(target, 0):>4} violations "
                         f"{self.seconds.get(target, 0.0):6.1f} s  answers: {answers}")
        return lines
