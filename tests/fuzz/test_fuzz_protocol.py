"""Property-based fuzz of HTTP/1.1 itself, over a fresh raw socket per case: bad methods, targets,
versions, header syntax and framing. Every answer is our JSON error (or a normal answer, when the
request turned out valid) with x-request-id, never a 5xx but a 501 for an unknown method, never
quoting the input, and always within the timeout."""
from __future__ import annotations

from hypothesis import given

from tests.fuzz.budget import Tally, fuzz
from tests.fuzz.http_case import check
from tests.fuzz.wire import RawRequest, protocol_violations
from tests.rawhttp import Connection
from tests.stack import Stack


def test_protocol_violations(stack: Stack, tally: Tally) -> None:
    @fuzz("protocol")
    @given(request=protocol_violations())
    def case(request: RawRequest) -> None:
        connection = Connection(stack.http_port, timeout_s=10)
        try:
            check(tally, "protocol", connection, request.data, head=request.method == "HEAD",
                  known_method=request.known_method)
        finally:
            connection.close()

    with tally.timing("protocol"):
        case()
    tally.assert_clean("protocol")
