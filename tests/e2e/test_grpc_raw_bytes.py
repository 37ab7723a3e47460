"""Bytes that are not a protobuf message, sent straight to the server: INVALID_ARGUMENT with
ErrorInfo INVALID_REQUEST, never UNKNOWN naming DecodeError and our message types (issue 7)."""
from __future__ import annotations

import grpc
import pytest

from tests.grpc_raw import METHODS, call_raw
from tests.stack import Stack

GARBAGE = {
    "invalid tag": b"\xff\xff\xff",
    "length past the end": b"\x0a\x05ab",
    "bad UTF-8 in a string": b"\x0a\x02\xc3\x28",
    "truncated varint": b"\x18\xff",
    "group wire type": b"\x0b",
}


# ListModelsRequest has no fields: its parser keeps field 1 as an unknown field, whatever its bytes.
CASES = [pytest.param(method, payload, id=f"{method}-{name}") for method in METHODS for name, payload in GARBAGE.items()
         if (method, name) != ("ListModels", "bad UTF-8 in a string")]


@pytest.mark.parametrize(("method", "payload"), CASES)
def test_unparseable_messages_are_invalid_argument(stack: Stack, test_key: str, method: str, payload: bytes) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        outcome = call_raw(channel, method, payload, test_key)
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome
    assert (outcome.reason, outcome.domain) == ("INVALID_REQUEST", "perf.images.v1")
    assert outcome.details == "The request message could not be parsed."


def test_they_are_refused_before_authentication_and_without_a_traceback(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        outcome = call_raw(channel, "GenerateImages", b"\xff\xff\xff", key=None)
    assert (outcome.code, outcome.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert "DecodeError" not in stack.server_log()  # gRPC logged a traceback for each one
