"""Hostile values and JSON request bodies: the kinds of input that broke the gateway before (issue 7)
— Unicode digits, huge and non-finite numbers, over-long names, odd JSON — mixed with valid ones so
that some requests get past the checks."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

MODELS = ["dall-e-3", "dall-e-2", "stable-diffusion-3", "flux-pro", "flux-dev", "ideogram-2", "imagen-3",
          "", "x", "DALL-E-3", "dall-e-3 ", "dall-e-3\x00"]
SIZES = ["1024x1024", "1792x1024", "256x256", "512x512", "1920x1080", "64x4096", "0x0", "99999x1", "1024×1024",
         "1024X1024", " 1024x1024", "axb"]
FIELDS = ("prompt", "model", "n", "size", "quality", "style", "response_format", "user", "max_cost_per_call")

# Characters int() / isdigit() / \d take for digits although they are not ASCII ('٣', '３', '²', '①').
unicode_digits = st.characters(categories=("Nd", "No"))
digits = st.text(st.one_of(st.sampled_from("0123456789"), unicode_digits), min_size=1, max_size=6)
words = st.text(max_size=40)
# Long values of a repeated character, long enough to have overflowed metadata or messages.
long_text = st.builds(lambda c, n: c * n, st.sampled_from(["m", "é", "😀", "\x00", "%", "'"]), st.integers(60, 9000))
numbers = st.one_of(
    st.integers(-2, 12),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 2**31, 2**63, 1_000_000, 1_000_000.01]),
)
json_leaf = st.one_of(st.none(), st.booleans(), numbers, words)
json_any = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
                        max_leaves=8)
sizes = st.one_of(st.sampled_from(SIZES), st.builds(lambda w, sep, h: f"{w}{sep}{h}", digits, st.sampled_from("xX×"), digits))

_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prompt": st.one_of(st.sampled_from(["a red fox", "p", "   ", ""]), words, long_text, json_any),
    "model": st.one_of(st.sampled_from(MODELS), words, long_text, json_any),
    "n": st.one_of(st.integers(-2, 11), numbers, digits, json_any),
    "size": st.one_of(sizes, json_any),
    "quality": st.one_of(st.sampled_from(["standard", "hd", "HD", "ultra"]), json_any),
    "style": st.one_of(st.sampled_from(["vivid", "natural", "baroque"]), json_any),
    "response_format": st.one_of(st.sampled_from(["url", "b64_json", "png"]), json_any),
    "user": st.one_of(words, long_text, json_any),
    "max_cost_per_call": st.one_of(numbers, digits, json_any),
}
objects = st.builds(lambda known, extra: {**known, **extra},
                    st.fixed_dictionaries({}, optional=_FIELD_VALUES),
                    st.dictionaries(st.one_of(st.sampled_from(["Prompt", "n ", "extra"]), words, long_text), json_any,
                                    max_size=1))
# Bodies no JSON encoder would write: non-finite and out-of-range numbers, deep nesting, surrogates.
odd_bodies = st.sampled_from([b"", b" ", b"null", b"[]", b'"text"', b"NaN", b'{"prompt": "p", "n": NaN}',
                              b'{"prompt": "p", "max_cost_per_call": Infinity}', b'{"prompt": "p", "n": 1e999}',
                              b"[" * 5000, b'{"prompt": "\\ud800"}', b'{"prompt": "p",}', b"\xef\xbb\xbf{}",
                              b'{"prompt": "p", "prompt": 3}'])


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


VALID = {"prompt": "a red fox", "model": "dall-e-2", "size": "256x256"}


@st.composite
def nearly_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A body that would generate, with one or two fields given hostile values: reaches the deep checks."""
    body: dict[str, Any] = dict(VALID)
    body["model"] = draw(st.sampled_from(MODELS[:7]))
    if body["model"] not in ("dall-e-2",):
        body["size"] = "1024x1024"
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=0, max_size=2, unique=True)):
        body[name] = draw(_FIELD_VALUES[name])
    return body


generation_bodies = st.one_of(nearly_valid().map(encode), nearly_valid().map(encode), objects.map(encode),
                              odd_bodies, st.binary(max_size=80))
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", digits, digits, digits),
    st.sampled_from(["0001-01-01", "9999-12-31", "1969-12-31", "1970-01-01", "2026-W01-1", "20260101",
                     "2026-02-30", "2026-1-1", "+2026-01-01", ""]),
    words,
)
