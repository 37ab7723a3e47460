"""Reads models.toml into a Catalog and refuses a catalog that could misprice or misroute a request."""
from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from server.catalog.model import ANY_SIZE, Catalog, CustomSizes, ModelSpec, ProviderSpec
from server.sizes import parse_size

DEFAULT_PATH = Path(__file__).with_name("models.toml")


class CatalogError(ValueError):
    """The catalog file is wrong; the message says where."""


def load_catalog(path: Path | None = None) -> Catalog:
    with open(path or DEFAULT_PATH, "rb") as fh:
        raw = tomllib.load(fh)
    providers = {pid: _provider(pid, spec) for pid, spec in raw.get("providers", {}).items()}
    models = {mid: _model(mid, spec, providers) for mid, spec in raw.get("models", {}).items()}
    if not models:
        raise CatalogError("catalog defines no models")
    catalog = Catalog(models=models, providers=providers)
    if catalog.default_model not in models:
        raise CatalogError(f"default model {catalog.default_model!r} is not in the catalog")
    return catalog


def _provider(pid: str, spec: dict[str, Any]) -> ProviderSpec:
    try:
        return ProviderSpec(id=pid, name=str(spec["name"]), env=str(spec["env"]))
    except KeyError as missing:
        raise CatalogError(f"provider {pid}: missing {missing}") from None


def _model(mid: str, spec: dict[str, Any], providers: dict[str, ProviderSpec]) -> ModelSpec:
    where = f"model {mid}"
    try:
        provider = str(spec["provider"])
        max_n = int(spec["max_n"])
        sizes = tuple(str(s) for s in spec["sizes"])
        qualities = tuple(str(q) for q in spec["qualities"])
        styles = tuple(str(s) for s in spec.get("styles", ()))
        created = int(spec["created"])
    except KeyError as missing:
        raise CatalogError(f"{where}: missing {missing}") from None
    if provider not in providers:
        raise CatalogError(f"{where}: unknown provider {provider!r}")
    if max_n < 1:
        raise CatalogError(f"{where}: max_n must be at least 1")
    if not sizes or not qualities:
        raise CatalogError(f"{where}: needs at least one size and one quality")
    for size in sizes:
        if parse_size(size) is None:
            raise CatalogError(f"{where}: size {size!r} is not WxH")
    custom = _custom_sizes(where, spec.get("custom_sizes"))
    prices = _prices(where, spec.get("prices", ()))
    for quality in qualities:
        for size in sizes:
            if (size, quality) not in prices and (ANY_SIZE, quality) not in prices:
                raise CatalogError(f"{where}: no price for {size} {quality}")
        if custom is not None and (ANY_SIZE, quality) not in prices:
            raise CatalogError(f"{where}: custom sizes need an 'any' price for {quality}")
    return ModelSpec(id=mid, provider=provider, created=created, max_n=max_n, sizes=sizes,
                     qualities=qualities, styles=styles, prices=prices, custom_sizes=custom)


def _prices(where: str, rows: Any) -> dict[tuple[str, str], int]:
    prices: dict[tuple[str, str], int] = {}
    for row in rows:
        try:
            usd = Decimal(str(row["usd"]))
            key = (str(row["size"]), str(row["quality"]))
        except (KeyError, InvalidOperation) as exc:
            raise CatalogError(f"{where}: bad price row {row!r} ({exc})") from None
        micros = usd * 1_000_000
        if usd < 0 or micros != micros.to_integral_value():
            raise CatalogError(f"{where}: price {row['usd']} is negative or finer than a micro-dollar")
        if key in prices:
            raise CatalogError(f"{where}: price for {key} given twice")
        prices[key] = int(micros)
    return prices


def _custom_sizes(where: str, raw: dict[str, Any] | None) -> CustomSizes | None:
    if raw is None:
        return None
    kind = raw.get("kind")
    if kind == "grid":
        custom = CustomSizes(kind="grid", step=int(raw["step"]), min_side=int(raw["min_side"]),
                             max_side=int(raw["max_side"]))
        if not (0 < custom.step <= custom.min_side <= custom.max_side) or custom.min_side % custom.step \
                or custom.max_side % custom.step:
            raise CatalogError(f"{where}: grid needs step <= min_side <= max_side, both multiples of step")
        return custom
    if kind == "nearest_of":
        parsed = [parse_size(str(s)) for s in raw.get("deliverable", ())]
        if not parsed or any(p is None for p in parsed):
            raise CatalogError(f"{where}: nearest_of needs a list of WxH sizes")
        return CustomSizes(kind="nearest_of", deliverable=tuple(p for p in parsed if p is not None))
    raise CatalogError(f"{where}: custom_sizes kind must be 'grid' or 'nearest_of'")
