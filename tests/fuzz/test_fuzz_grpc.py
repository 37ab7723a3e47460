"""Property-based fuzz of ImageService with raw bytes (grpc's generic unary call, no serializer):
every answer is OK or one of our documented errors — code and ErrorInfo in domain perf.images.v1 —
never UNKNOWN/INTERNAL, never naming parser internals, small trailers, and within the deadline."""
from __future__ import annotations

import grpc
from hypothesis import given

from contract.errors import ERROR_DOMAIN, KINDS_BY_REASON
from tests.fuzz.budget import Tally, fuzz
from tests.fuzz.messages import GrpcCase, grpc_cases
from tests.grpc_raw import Outcome, call_raw
from tests.stack import Stack

LEAKS = ("DecodeError", "Error parsing", "Traceback", "perf.images.v1.")


def grpc_problems(outcome: Outcome) -> list[str]:
    if outcome.code == grpc.StatusCode.OK:
        return []
    found = []
    kind = KINDS_BY_REASON.get(outcome.reason or "")
    if kind is None or outcome.domain != ERROR_DOMAIN:
        found.append(f"{outcome.code.name} without our ErrorInfo: {outcome.details[:100]!r}")
    elif kind.grpc_code != outcome.code:
        found.append(f"reason {outcome.reason} with code {outcome.code.name}")
    if kind is not None and kind.http_status >= 500:
        found.append(f"server error {kind.type}")
    if any(leak in outcome.details for leak in LEAKS) or len(outcome.details) > 300:
        found.append(f"details leak or grow: {outcome.details[:100]!r}")
    if outcome.trailer_bytes > 2048:
        found.append(f"{outcome.trailer_bytes} bytes of trailers")
    return found


def test_raw_bytes_to_every_method(stack: Stack, test_key: str, tally: Tally) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        @fuzz("grpc")
        @given(case=grpc_cases(test_key))
        def run(case: GrpcCase) -> None:
            outcome = call_raw(channel, case.method, case.payload, case.key, timeout_s=10)
            tally.record("grpc", f"{case.method} {case.payload[:200]!r} key={case.key is not None}",
                         grpc_problems(outcome), outcome.code.name)

        with tally.timing("grpc"):
            run()
    tally.assert_clean("grpc")
    assert {"OK", "INVALID_ARGUMENT", "NOT_FOUND"} <= set(tally.answers["grpc"])  # parsed, validated, served
