"""contract.errors.echo: quoted client text cut, and freed of exactly the control characters (Cc)."""
from __future__ import annotations

import sys
import unicodedata

from contract.errors import echo


def reference(value: str, limit: int) -> str:
    cut = value if len(value) <= limit else value[:limit] + "…"
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in cut)


def test_echo_replaces_exactly_the_control_characters_over_every_code_point() -> None:
    for code in range(sys.maxunicode + 1):
        text = f"a {chr(code)} b"
        assert echo(text) == reference(text, 64), f"U+{code:04X}"


def test_echo_cuts_and_keeps_the_rest_of_a_multi_line_text() -> None:
    prompt = "a fox\nin snow\t— é 😀 \u202e\x00 " * 40
    assert echo(prompt, 4000) == reference(prompt, 4000)
    assert echo("a fox\x00 in snow") == "a fox\ufffd in snow"
    assert echo("plain words") == "plain words"
    assert echo("x" * 70) == "x" * 64 + "…"
