"""Reads models.toml into a Catalog and refuses a catalog that could misprice or misroute a request."""
from __future__ import annotations

import tomllib
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from server.catalog.model import (
    ANY_SIZE,
    Catalog,
    CustomSizes,
    Deployment,
    ModelSpec,
)
from server.catalog.sizes import parse_size

DEFAULT_PATH = Path(__file__).with_name("models.toml")


class CatalogError(ValueError):
    """The catalog file is wrong; the message says where."""


def load_catalog(path: Path | None = None, providers: Collection[str] | None = None) -> Catalog:
    """The catalog at `path`; every model's provider must be one of `providers` (default: the registered ones)."""
    if providers is None:
        from server.providers.registry import declared  # the adapters are only imported when asked for

        providers = tuple(declared())
    with open(path or DEFAULT_PATH, "rb") as fh:
        raw = tomllib.load(fh)
    deployments = raw.get("deployments", {})
    models = {mid: _model(mid, spec, providers, deployments.get(mid)) for mid, spec in raw.get("models", {}).items()}
    if not models:
        raise CatalogError("catalog defines no models")
    for mid in set(deployments) - set(models):
        raise CatalogError(f"deployment {mid}: no such model")
    catalog = Catalog(models=models)
    if catalog.default_model not in models:
        raise CatalogError(f"default model {catalog.default_model!r} is not in the catalog")
    return catalog



def _model(mid: str, spec: dict[str, Any], providers: Collection[str], deployment: Any) -> ModelSpec:
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
                     qualities=qualities, styles=styles, prices=prices, custom_sizes=custom,
                     deployment=_deployment(mid, deployment, sizes, qualities, styles))


def _deployment(mid: str, raw: Any, sizes: tuple[str, ...], qualities: tuple[str, ...],
                styles: tuple[str, ...]) -> Deployment:
    """The upstream deployment; without a table, the public id is served under its own name, untranslated."""
    if raw is None:
        return Deployment(upstream_model=mid)
    where = f"deployment {mid}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table")
    unknown = set(raw) - {"upstream_model", "quality", "style", "size", "params"}
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    upstream_model = raw.get("upstream_model")
    if not isinstance(upstream_model, str) or not upstream_model.strip():
        raise CatalogError(f"{where}: upstream_model must be a non-empty string")
    quality = _translation(where, "quality", raw.get("quality"), qualities, exhaustive=True)
    style = _translation(where, "style", raw.get("style"), styles, exhaustive=True)
    size = _translation(where, "size", raw.get("size"), sizes, exhaustive=False)
    for public, upstream in size.items():
        if parse_size(upstream) is None:
            raise CatalogError(f"{where}: size {public} maps to {upstream!r}, which is not WxH")
    params = raw.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (str, int, float, bool)) for v in params.values()):
        raise CatalogError(f"{where}: params must be a table of strings, numbers or booleans")
    return Deployment(upstream_model=upstream_model, quality=quality, style=style, size=size, params=dict(params))


def _translation(where: str, name: str, raw: Any, public: tuple[str, ...], exhaustive: bool) -> dict[str, str]:
    # A partial quality or style map would silently send the upstream's default for the rest.
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise CatalogError(f"{where}: {name} must map public values to non-empty strings")
    extra = set(raw) - set(public)
    if extra:
        raise CatalogError(f"{where}: {name} maps {sorted(extra)}, which the model does not offer")
    missing = set(public) - set(raw)
    if exhaustive and missing:
        raise CatalogError(f"{where}: {name} has no translation for {sorted(missing)}")
    return {str(k): str(v) for k, v in raw.items()}


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
