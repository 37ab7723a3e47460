"""A prompt is refused for exactly the characters the per-character rule names, first one first."""
from __future__ import annotations

import sys
import unicodedata

import pytest

from server.errors import InvalidRequest
from server.pipeline.validation import _ALLOWED_CONTROLS, _BIDI_CONTROLS, prompt_of


def refused_by_rule(char: str) -> bool:
    return char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS)


def test_every_code_point_is_refused_exactly_when_the_rule_says() -> None:
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates cannot arrive: the gateway's JSON parser and protobuf refuse them
        char = chr(code)
        try:
            prompt_of(f"a {char} b")
            refused = False
        except InvalidRequest as error:
            refused = True
            assert f"U+{code:04X}" in str(error)
        assert refused == refused_by_rule(char), f"U+{code:04X}"


def test_the_first_refused_character_is_named_and_allowed_ones_pass() -> None:
    with pytest.raises(InvalidRequest, match=r"U\+0007"):
        prompt_of("line one\nbell \x07 then \u202e")
    assert prompt_of("tabs\tand\r\nnew lines, é, 😀 — fine " * 100).startswith("tabs")
