"""Property-based fuzz of the REST gateway over real sockets (one keep-alive connection, the shared
stack): JSON bodies, header values, query strings and image paths. For every case: never a 5xx, every
error in the documented shape with x-request-id, an answer within the timeout, and no 200 for any
spelling of an image URL but the one issued."""
from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import Tally, fuzz
from tests.fuzz.http_case import check
from tests.fuzz.values import dates, generation_bodies, long_text, unicode_digits, words
from tests.fuzz.wire import RawRequest, header_requests
from tests.rawhttp import Connection, RawReply, request_bytes
from tests.stack import Stack

GEN = "/v1/images/generations"
IMAGE_URL = re.compile(r"http://[^/]+(/v1/images/(img_[0-9a-f]{32})/([0-9]+)/([\w-]{43})\.(png))")


@pytest.fixture(scope="module")
def connection(stack: Stack) -> Iterator[Connection]:
    opened = Connection(stack.http_port, timeout_s=10)
    yield opened
    opened.close()


def test_generation_bodies(stack: Stack, test_key: str, tally: Tally, connection: Connection) -> None:
    headers = {"Authorization": f"Bearer {test_key}", "Content-Type": "application/json"}

    @fuzz("bodies")
    @given(body=generation_bodies)
    def case(body: bytes) -> None:
        check(tally, "bodies", connection, request_bytes("POST", GEN, headers, body))

    with tally.timing("bodies"):
        case()
    tally.assert_clean("bodies")
    assert {"200", "400", "404"} <= set(tally.answers["bodies"])  # some bodies get all the way through


def test_header_values(stack: Stack, test_key: str, tally: Tally, connection: Connection) -> None:
    @fuzz("headers")
    @given(request=header_requests(test_key))
    def case(request: RawRequest) -> None:
        check(tally, "headers", connection, request.data)

    with tally.timing("headers"):
        case()
    tally.assert_clean("headers")


query_values = st.one_of(dates, long_text.map(lambda t: t[:1000]), words)
query_names = st.one_of(st.sampled_from(["start", "end", "start", "end", "Start", "end[]"]), words)
queries = st.lists(st.tuples(query_names, query_values), max_size=3).map(
    lambda pairs: "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs))
model_names = st.one_of(words, long_text.map(lambda t: t[:1200]), st.text(unicode_digits, max_size=10))


def test_query_strings_and_model_names(stack: Stack, test_key: str, tally: Tally, connection: Connection) -> None:
    headers = {"Authorization": f"Bearer {test_key}"}

    @fuzz("queries")
    @given(target=st.one_of(queries.map(lambda q: f"/v1/usage?{q}"),
                            model_names.map(lambda m: f"/v1/models/{quote(m, safe='')}")))
    def case(target: str) -> None:
        check(tally, "queries", connection, request_bytes("GET", target, headers))

    with tally.timing("queries"):
        case()
    tally.assert_clean("queries")


@st.composite
def respelled(draw: st.DrawFn, issued: re.Match[str]) -> str:
    """The issued image path with one part written some other way."""
    parts = [issued[2], issued[3], issued[4], issued[5]]
    at = draw(st.integers(0, 3))
    part = parts[at]
    where = draw(st.integers(0, len(part)))
    operation = draw(st.sampled_from(["unicode digit", "escape", "insert", "delete", "zero", "case", "replace"]))
    if operation == "unicode digit":
        part = part[:where] + quote(draw(unicode_digits)) + part[where + 1:]
    elif operation == "escape" and where < len(part):
        part = part[:where] + f"%{ord(part[where]):02X}" + part[where + 1:]
    elif operation == "insert":
        part = part[:where] + quote(draw(st.text(min_size=1, max_size=2)), safe="") + part[where:]
    elif operation == "delete" and where < len(part):
        part = part[:where] + part[where + 1:]
    elif operation == "zero":
        part = "0" + part
    elif operation == "case":
        part = part.swapcase()
    elif operation == "replace" and where < len(part):
        part = part[:where] + draw(st.sampled_from("0123456789abcdefABCDEF-_")) + part[where + 1:]
    parts[at] = part
    suffix = draw(st.sampled_from(["", "", "", "?v=1", "?", "/", "#x"]))
    return f"/v1/images/{parts[0]}/{parts[1]}/{parts[2]}.{parts[3]}{suffix}"


def test_image_paths(stack: Stack, test_key: str, tally: Tally, connection: Connection) -> None:
    made = stack.post(GEN, {"prompt": "fuzz one url", "model": "dall-e-2", "size": "256x256"}, key=test_key)
    issued = IMAGE_URL.fullmatch(made.json()["data"][0]["url"])
    assert issued, made.body

    @fuzz("image paths")
    @given(path=respelled(issued))
    def case(path: str) -> None:
        def one_url(reply: RawReply) -> list[str]:
            served = reply.status == 200 and path != issued[1]
            return ["another spelling of the URL served the image"] if served else []

        check(tally, "image paths", connection, request_bytes("GET", path), also=one_url)

    with tally.timing("image paths"):
        case()
    tally.assert_clean("image paths")
    assert {"403", "404"} <= set(tally.answers["image paths"])  # well-shaped forgeries reach the signature check
