"""server/providers/inline_base64.py: lifting base64 out of a JSON answer reads exactly what orjson reads."""
from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.providers.images import BadImage, ImageLimits, decode_b64
from server.providers.inline_base64 import parse_lifting
from server.providers.replies import Reply


def plain(node: Any) -> Any:
    """The parsed document with lifted values as the str orjson would have made."""
    if isinstance(node, memoryview):
        return bytes(node).decode()
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


TRICKY = [
    b'{"data":[{"b64_json":"QUJD","revised_prompt":"x"},{"b64_json" : "REVG"}]}',
    b'{"a":{"b64_json":"X1"},"b64_json":"Y2"}',  # document order across nesting
    b'{"b64_json":"A","b64_json":"B"}',  # a repeated key: the last one wins, as in orjson
    b'{"a\\"b64_json":"zz"}',  # the key text inside another key's escaped name
    b'{"b64_json":"a\\/b"}',  # an escape inside the value (some encoders escape "/")
    b'{"p":"say \\"b64_json\\": \\"x\\"","b64_json":"Q"}',  # the key text inside a string
    b'{"b64_json":""}', b'{"b64_json":null}', b'{"b64_json":7}', b'["b64_json", "b64_json"]',
    b'{"x":[1,{"y":{"b64_json":"k"}}],"z":{"b64_json":"m"}}',
]


@pytest.mark.parametrize("body", TRICKY)
def test_lifting_reads_what_orjson_reads(body: bytes) -> None:
    assert plain(parse_lifting(body, "b64_json")) == orjson.loads(body)


def test_a_plain_value_comes_back_as_a_view_of_the_body_and_decodes_to_the_image() -> None:
    image = bytes(range(256)) * 40
    body = orjson.dumps({"data": [{"b64_json": base64.b64encode(image).decode(), "revised_prompt": "p"}]})
    parsed = Reply(200, {}, body).json("OpenAI", lift="b64_json")
    value = parsed["data"][0]["b64_json"]
    assert isinstance(value, memoryview) and value.obj is body  # no copy of the 13 KB string
    assert decode_b64(value) == image
    assert parsed["data"][0]["revised_prompt"] == "p"


def test_an_escaped_value_falls_back_to_the_whole_parse_and_still_decodes() -> None:
    image = b"\xff" * 300  # base64 full of "/"
    encoded = base64.b64encode(image).decode()
    body = b'{"data":[{"b64_json":"' + encoded.replace("/", "\\/").encode() + b'"}]}'
    value = Reply(200, {}, body).json("OpenAI", lift="b64_json")["data"][0]["b64_json"]
    assert isinstance(value, str) and decode_b64(value) == image


def test_a_lifted_value_orjson_would_refuse_is_a_bad_image_not_garbage() -> None:
    # A raw control character is not JSON: the lenient decoder must not quietly skip it.
    lifted = parse_lifting(b'{"b64_json":"QU\x01JD"}', "b64_json")["b64_json"]
    with pytest.raises(BadImage):
        ImageLimits(max_bytes=1000, max_pixels=10).from_base64(lifted)


def test_a_malformed_body_is_still_malformed() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        parse_lifting(b'{"b64_json":"QUJD",', "b64_json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
    | st.sampled_from(["QUJD", "", "a/b+c=", 'b64_json', '"b64_json":"']),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["b64_json", "data", 'x"b64_json', "b64_json\\", "url"]), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_any_document_reads_the_same_lifted_or_not(document: Any, spaced: bool) -> None:
    body = orjson.dumps(document)
    if spaced:  # other encoders put spaces around ":" (Python's json does)
        body = body.replace(b'":', b'" : ')
        try:
            expected = orjson.loads(body)
        except orjson.JSONDecodeError:
            return  # the replacement also hit a string's text and broke it
    else:
        expected = document
    assert plain(parse_lifting(body, "b64_json")) == expected
