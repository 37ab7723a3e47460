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


def test_an_end_user_id_is_refused_for_any_control_character_and_only_for_those() -> None:
    from server.pipeline.validation import user_of

    for char in ("\x00", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"):
        with pytest.raises(InvalidRequest, match="control characters"):
            user_of(f"user{char}42")
    for user in ("user-42", "ユーザー 42", "a\u202eb", "\u00a0", ""):  # not Cc, though not all printable
        assert user_of(user) == user
