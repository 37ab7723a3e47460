"""One URL per image (issue 7): any other spelling of a signed URL's parts is 404, before any signature
work, over HTTP and over gRPC (whose callers reach GetImageContent directly)."""
from __future__ import annotations

import re
from collections.abc import Callable

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from tests.grpc_raw import call_raw
from tests.stack import Stack

URL = re.compile(r"http://[^/]+(?P<path>/v1/images/(?P<id>img_[0-9a-f]{32})/(?P<exp>[0-9]+)/(?P<sig>[\w-]{43})\.png)")


@pytest.fixture(scope="module")
def issued(stack: Stack, test_key: str) -> re.Match[str]:
    response = stack.post("/v1/images/generations", {"prompt": "one url", "model": "dall-e-2", "size": "256x256"},
                          key=test_key)
    match = URL.fullmatch(response.json()["data"][0]["url"])
    assert match, response.body
    return match


def utf8_escaped(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def last_digit_as(first: int) -> Callable[[str, str, str], str]:
    """The expiry with its last digit written in the Unicode digit block starting at `first`."""
    return lambda i, e, s: f"/v1/images/{i}/{e[:-1]}{utf8_escaped(chr(first + int(e[-1])))}/{s}.png"


VARIANTS: dict[str, Callable[[str, str, str], str]] = {
    "leading zero": lambda i, e, s: f"/v1/images/{i}/0{e}/{s}.png",
    "plus sign": lambda i, e, s: f"/v1/images/{i}/+{e}/{s}.png",
    "escaped ASCII digits": lambda i, e, s: f"/v1/images/{i}/{utf8_escaped(e)}/{s}.png",
    "Arabic-Indic digit": last_digit_as(0x660),  # int('١') == 1: the same expiry, another URL
    "fullwidth digit": last_digit_as(0xFF10),
    "superscript two": lambda i, e, s: f"/v1/images/{i}/{e}{utf8_escaped(chr(0xB2))}/{s}.png",  # isdigit(); int() raises
    "circled one": lambda i, e, s: f"/v1/images/{i}/{e}{utf8_escaped(chr(0x2460))}/{s}.png",
    "query string": lambda i, e, s: f"/v1/images/{i}/{e}/{s}.png?v=1",
    "upper-case id": lambda i, e, s: f"/v1/images/img_{i[4:].upper()}/{e}/{s}.png",
    "escaped id letter": lambda i, e, s: f"/v1/images/{i[:-1]}%{ord(i[-1]):02X}/{e}/{s}.png",
    "padded signature": lambda i, e, s: f"/v1/images/{i}/{e}/{s}%3D.png",
    "short signature": lambda i, e, s: f"/v1/images/{i}/{e}/{s[:-1]}.png",
    "upper-case extension": lambda i, e, s: f"/v1/images/{i}/{e}/{s}.PNG",
}


def test_the_issued_url_serves(stack: Stack, issued: re.Match[str]) -> None:
    assert stack.get(issued["path"]).status == 200


@pytest.mark.parametrize("name", VARIANTS)
def test_every_other_spelling_is_404(stack: Stack, issued: re.Match[str], name: str) -> None:
    path = VARIANTS[name](issued["id"], issued["exp"], issued["sig"])
    response = stack.get(path)
    assert response.status == 404, (name, path, response.body)
    assert response.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(("name", "change"), [
    ("expiry zero", {"expires": 0}),
    ("negative expiry", {"expires": -1}),
    ("13-digit expiry", {"expires": 10**12}),
    ("short signature", {"signature": "A" * 42}),
    ("signature with padding", {"signature": "A" * 43 + "="}),
    ("upper-case id", {"image_id": "IMG_" + "A" * 32}),
    ("id with a path", {"image_id": "../secret.key"}),
])
def test_grpc_refuses_malformed_parts_as_not_found(stack: Stack, issued: re.Match[str], name: str,
                                                   change: dict[str, object]) -> None:
    parts = {"image_id": issued["id"], "expires": int(issued["exp"]), "signature": issued["sig"], "extension": "png"}
    with grpc.insecure_channel(stack.grpc_target) as channel:
        good = call_raw(channel, "GetImageContent", pb.GetImageContentRequest(**parts).SerializeToString())  # type: ignore[arg-type]
        outcome = call_raw(channel, "GetImageContent",
                           pb.GetImageContentRequest(**{**parts, **change}).SerializeToString())  # type: ignore[arg-type]
    assert good.code == grpc.StatusCode.OK
    assert outcome.code == grpc.StatusCode.NOT_FOUND, (name, outcome)
