"""Reading a price table from the catalog file into one of the three price models (pricing.py).

    price = { per_image = [{ size = "1024x1024", quality = "standard", usd = "0.040" }, ...] }
    edit_price = { per_image = [...], input_mp = "0.005" }   (input_mp: per started input megapixel)
    [<table>.price.per_megapixel]  first_mp = "0.03"  extra_mp = "0.015"  input_mp = "0.015"
    [<table>.price.per_token]      text_input = "5.00"  image_input = "8.00"  image_output = "30.00"  (USD / 1M)
    [<table>.price.per_token.estimate]  output_per_megapixel = { low = 400, ... } | output_per_image = [[1.1, 1120], ...]

Amounts are decimal strings so they stay exact; anything finer than a micro-dollar (or a
micro-dollar per million tokens) is refused rather than rounded.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from server.catalog.pricing import PerImage, PerMegapixel, PerToken, Price, TokenEstimate


class PriceError(ValueError):
    """A price table is wrong; the message says how."""


def parse_price(raw: Any) -> Price:
    if isinstance(raw, dict) and set(raw) == {"per_image", "input_mp"}:
        return _per_image(raw["per_image"], _micros(raw, "input_mp"))
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PriceError("price must name exactly one of per_image, per_megapixel, per_token")
    (kind, body), = raw.items()
    if kind == "per_image":
        return _per_image(body)
    if kind == "per_megapixel":
        return PerMegapixel(first_mp=_micros(body, "first_mp"), extra_mp=_micros(body, "extra_mp"),
                            input_mp=_micros(body, "input_mp", required=False))
    if kind == "per_token":
        return PerToken(text_input=_micros(body, "text_input"), image_input=_micros(body, "image_input"),
                        image_output=_micros(body, "image_output"),
                        text_output=_micros(body, "text_output", required=False),
                        estimate_tokens=_estimate(body.get("estimate")))
    raise PriceError(f"unknown price model {kind!r}")


def _per_image(rows: Any, input_mp: int = 0) -> PerImage:
    if not isinstance(rows, list) or not rows:
        raise PriceError("per_image must be a list of {size, quality, usd}")
    prices: dict[tuple[str, str], int] = {}
    for row in rows:
        if not isinstance(row, dict) or {"size", "quality", "usd"} - set(row):
            raise PriceError(f"bad price row {row!r}")
        key = (str(row["size"]), str(row["quality"]))
        if key in prices:
            raise PriceError(f"price for {key} given twice")
        prices[key] = _micros(row, "usd")
    return PerImage(prices, input_mp)


def _micros(body: Any, name: str, required: bool = True) -> int:
    if not isinstance(body, dict):
        raise PriceError("a price must be a table")
    if name not in body:
        if required:
            raise PriceError(f"missing {name}")
        return 0
    try:
        usd = Decimal(str(body[name]))
    except InvalidOperation:
        raise PriceError(f"{name} = {body[name]!r} is not a number") from None
    micros = usd * 1_000_000
    if not usd.is_finite() or usd < 0 or micros != micros.to_integral_value():
        raise PriceError(f"{name} = {body[name]} is negative or finer than a micro-dollar")
    return int(micros)


def _estimate(raw: Any) -> TokenEstimate:
    if not isinstance(raw, dict):
        raise PriceError("per_token needs an [estimate] table: the most tokens one image can cost")
    per_mp = raw.get("output_per_megapixel", {})
    per_image = raw.get("output_per_image", [])
    if bool(per_mp) == bool(per_image):
        raise PriceError("estimate needs exactly one of output_per_megapixel or output_per_image")
    if not all(isinstance(v, int) and v > 0 for v in dict(per_mp).values()):
        raise PriceError("output_per_megapixel must map qualities to positive token counts")
    steps = tuple((float(up_to), int(tokens)) for up_to, tokens in per_image)
    if [s[0] for s in steps] != sorted(s[0] for s in steps) or any(t <= 0 for _, t in steps):
        raise PriceError("output_per_image must be [[up to megapixels, tokens], ...] in rising order")
    return TokenEstimate(output_per_megapixel={str(k): int(v) for k, v in dict(per_mp).items()},
                         output_per_image=steps, input_per_megapixel=int(raw.get("input_per_megapixel", 0)),
                         text_output=int(raw.get("text_output", 0)))
