"""contract.errors.echo: quoted client text cut and freed of control characters, whichever path it takes."""
from __future__ import annotations

import unicodedata

from contract.errors import echo

# One of each kind isprintable() refuses (Cc, Cf, Zs, Zl, Co, Cn, Cs) or accepts (letters, emoji, space).
SAMPLES = ["\x00", "\x1f", "\x7f", "\x85", "\u200b", "\u202e", "\u00a0", "\u2028", "\ue000", "\U000e0000", "\ud800",
           "a", "é", "😀", " ", "…"]


def reference(value: str, limit: int) -> str:
    cut = value if len(value) <= limit else value[:limit] + "…"
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in cut)


def test_echo_replaces_exactly_the_control_characters_on_either_path() -> None:
    for first in SAMPLES:
        for second in SAMPLES:
            for text in (first, f"a fox {first} in{second} snow", first * 70 + second):
                assert echo(text) == reference(text, 64), repr(text)
    assert echo("a fox\x00 in snow") == "a fox\ufffd in snow"
    assert echo("plain words") == "plain words"
    assert echo("x" * 70) == "x" * 64 + "…"
