"""Reads models.toml into a Catalog and refuses a catalog that could misprice or misroute a request.

Checked here, once, at start-up: every model and deployment field, that every (size, quality) a
model accepts has a price (ours and the upstream's), that every deployment translates all of its
public model's qualities and styles, that each deployment serves exactly one public model, that
no successor chain loops, and (given the plugins) that a deployment's region is one its provider
has. Whether a chain ends in a shut-down deployment depends on the date and is checked by
lifecycle.check_lifecycle.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.catalog.model import Catalog, CustomSizes, Deployment, EditRoute, Lifecycle, ModelSpec
from server.catalog.prices_toml import PriceError, parse_price
from server.catalog.pricing import ANY_SIZE, PerImage, Price
from server.catalog.sizes import parse_size

if TYPE_CHECKING:
    from server.providers.plugin import ProviderPlugin

DEFAULT_PATH = Path(__file__).with_name("models.toml")
_DEPLOYMENT_KEYS = {"provider", "upstream_model", "quality", "style", "size", "params", "upstream_price",
                    "deprecated_on", "shutdown_on", "successor", "sources", "edit", "inpaint", "stream", "region"}
_MODEL_KEYS = {"created", "max_n", "sizes", "qualities", "styles", "deployments", "custom_sizes", "price", "sources",
               "output_formats", "backgrounds", "moderation", "input_fidelity", "size_auto", "variations",
               "edit_price", "inpaint_price", "default_response_format"}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("auto", "opaque", "transparent")


class CatalogError(ValueError):
    """The catalog file is wrong; the message says where."""


def load_catalog(path: Path | None = None,
                 providers: Collection[str] | Mapping[str, ProviderPlugin] | None = None) -> Catalog:
    """The catalog at `path`; every deployment's provider must be one of `providers` (default: the registered).

    Given the plugins themselves (a mapping), a deployment's `region` must also be one its plugin declares."""
    if providers is None:
        from server.providers.registry import declared  # the adapters are only imported when asked for

        providers = declared()
    with open(path or DEFAULT_PATH, "rb") as fh:
        raw = tomllib.load(fh)
    models = {mid: _model(mid, spec) for mid, spec in raw.get("models", {}).items()}
    if not models:
        raise CatalogError("catalog defines no models")
    owners = _owners(models, raw.get("deployments", {}))
    deployments = {did: _deployment(did, spec, models[owners[did]], providers)
                   for did, spec in raw.get("deployments", {}).items()}
    if isinstance(providers, Mapping):
        for deployment in deployments.values():
            _check_region(deployment, providers[deployment.provider])
    catalog = Catalog(models=models, deployments=deployments)
    if catalog.default_model not in models:
        raise CatalogError(f"default model {catalog.default_model!r} is not in the catalog")
    return catalog


def _owners(models: dict[str, ModelSpec], raw: dict[str, Any]) -> dict[str, str]:
    """Which public model each deployment serves: the one whose list or successor chain reaches it."""
    owners: dict[str, str] = {}
    for model in models.values():
        if not model.deployments:
            raise CatalogError(f"model {model.id}: lists no deployments")
        for start in model.deployments:
            seen: list[str] = []
            current: str | None = start
            while current is not None:
                if current not in raw:
                    raise CatalogError(f"model {model.id}: no deployment {current!r}")
                if current in seen:
                    raise CatalogError(f"model {model.id}: successor chain loops: {' -> '.join([*seen, current])}")
                if owners.setdefault(current, model.id) != model.id:
                    raise CatalogError(f"deployment {current}: serves both {owners[current]} and {model.id}")
                seen.append(current)
                successor = raw[current].get("successor") if isinstance(raw[current], dict) else None
                current = str(successor) if successor is not None else None
    for did in set(raw) - set(owners):
        raise CatalogError(f"deployment {did}: no model lists it or reaches it as a successor")
    return owners


def _model(mid: str, spec: dict[str, Any]) -> ModelSpec:
    where = f"model {mid}"
    unknown = set(spec) - _MODEL_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        max_n = int(spec["max_n"])
        sizes = tuple(str(s) for s in spec["sizes"])
        qualities = tuple(str(q) for q in spec["qualities"])
        styles = tuple(str(s) for s in spec.get("styles", ()))
        created = int(spec["created"])
        deployments = tuple(str(d) for d in spec["deployments"])
    except KeyError as missing:
        raise CatalogError(f"{where}: missing {missing}") from None
    if max_n < 1:
        raise CatalogError(f"{where}: max_n must be at least 1")
    if not sizes or not qualities:
        raise CatalogError(f"{where}: needs at least one size and one quality")
    for size in sizes:
        if parse_size(size) is None:
            raise CatalogError(f"{where}: size {size!r} is not WxH")
    custom = _custom_sizes(where, spec.get("custom_sizes"))
    price = _price(where, spec.get("price"), sizes, qualities, custom is not None)
    edit_prices = {name: _price(f"{where}.{name}", spec[name], sizes, qualities, custom is not None)
                   for name in ("edit_price", "inpaint_price") if name in spec}
    if any(not isinstance(p, PerImage) for p in edit_prices.values()):
        raise CatalogError(f"{where}: edit_price and inpaint_price are per_image tables (with an optional input_mp)")
    response_format = spec.get("default_response_format", "url")
    if response_format not in ("url", "b64_json"):
        raise CatalogError(f"{where}: default_response_format must be url or b64_json")
    variations = spec.get("variations")
    if variations is not None and not (isinstance(variations, dict) and isinstance(variations.get("prompt"), str)):
        raise CatalogError(f"{where}: variations must be {{ prompt = \"...\" }} (variations are edits with it)")
    return ModelSpec(id=mid, created=created, max_n=max_n, sizes=sizes, qualities=qualities, styles=styles,
                     price=price, deployments=deployments, custom_sizes=custom,
                     sources=tuple(str(s) for s in spec.get("sources", ())),
                     output_formats=_choice_list(where, spec, "output_formats", OUTPUT_FORMATS, OUTPUT_FORMATS),
                     backgrounds=_choice_list(where, spec, "backgrounds", BACKGROUNDS, ("auto", "opaque")),
                     moderation=_choice_list(where, spec, "moderation", ("auto", "low"), ()),
                     input_fidelity=_choice_list(where, spec, "input_fidelity", ("low", "high"), ()),
                     size_auto=bool(spec.get("size_auto", False)),
                     variation_prompt=variations["prompt"] if variations else None,
                     edit_price=edit_prices.get("edit_price"), inpaint_price=edit_prices.get("inpaint_price"),
                     default_response_format=response_format)


def _choice_list(where: str, spec: dict[str, Any], name: str, allowed: tuple[str, ...],
                 default: tuple[str, ...]) -> tuple[str, ...]:
    raw = spec.get(name)
    if raw is None:
        return default
    if not isinstance(raw, list) or not raw or any(v not in allowed for v in raw):
        raise CatalogError(f"{where}: {name} must be a non-empty list of {', '.join(allowed)}")
    return tuple(str(v) for v in raw)


def _price(where: str, raw: Any, sizes: tuple[str, ...], qualities: tuple[str, ...], custom: bool) -> Price:
    try:
        price = parse_price(raw)
    except PriceError as error:
        raise CatalogError(f"{where}: {error}") from None
    if isinstance(price, PerImage):
        for quality in qualities:
            for size in sizes:
                if not price.covers(size, quality):
                    raise CatalogError(f"{where}: no price for {size} {quality}")
            if custom and (ANY_SIZE, quality) not in price.prices:
                raise CatalogError(f"{where}: custom sizes need an 'any' price for {quality}")
    return price


def _deployment(did: str, raw: Any, model: ModelSpec, providers: Collection[str]) -> Deployment:
    where = f"deployment {did}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table")
    unknown = set(raw) - _DEPLOYMENT_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    provider, upstream_model = raw.get("provider"), raw.get("upstream_model")
    if provider not in providers:
        raise CatalogError(f"{where}: unknown provider {provider!r}")
    if not isinstance(upstream_model, str) or not upstream_model.strip():
        raise CatalogError(f"{where}: upstream_model must be a non-empty string")
    quality = _translation(where, "quality", raw.get("quality"), model.qualities, exhaustive=True)
    style = _translation(where, "style", raw.get("style"), model.styles, exhaustive=True)
    size = _translation(where, "size", raw.get("size"), model.sizes, exhaustive=False)
    for public, upstream in size.items():
        if parse_size(upstream) is None:
            raise CatalogError(f"{where}: size {public} maps to {upstream!r}, which is not WxH")
    params = raw.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (str, int, float, bool)) for v in params.values()):
        raise CatalogError(f"{where}: params must be a table of strings, numbers or booleans")
    if "upstream_price" not in raw:
        raise CatalogError(f"{where}: missing upstream_price (what {provider} charges for it)")
    upstream_price = _price(where, raw["upstream_price"], model.sizes, model.qualities, model.custom_sizes is not None)
    return Deployment(id=did, model=model.id, provider=str(provider), upstream_model=upstream_model,
                      upstream_price=upstream_price, lifecycle=_lifecycle(where, raw), quality=quality,
                      style=style, size=size, params=dict(params),
                      edit=_edit_route(f"{where} edit", raw.get("edit"), model, masked_by_default=False),
                      inpaint=_edit_route(f"{where} inpaint", raw.get("inpaint"), model, masked_by_default=True),
                      stream=bool(raw.get("stream", False)), region=_region(where, raw.get("region")))


def _region(where: str, raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise CatalogError(f"{where}: region must be a non-empty string")
    return raw


def _check_region(deployment: Deployment, plugin: ProviderPlugin) -> None:
    if deployment.region is not None and deployment.region not in plugin.regions:
        offered = ", ".join(plugin.regions) or "none"
        raise CatalogError(f"deployment {deployment.id}: {plugin.name} has no region {deployment.region!r} "
                           f"(regions: {offered})")


def _edit_route(where: str, raw: Any, model: ModelSpec, masked_by_default: bool) -> EditRoute | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"upstream_model", "max_images", "mask", "upstream_price", "params"}:
        raise CatalogError(f"{where}: must be {{ upstream_model, max_images, mask, upstream_price, params }}")
    upstream_model = raw.get("upstream_model")
    if not isinstance(upstream_model, str) or not upstream_model:
        raise CatalogError(f"{where}: upstream_model must be a non-empty string")
    max_images = raw.get("max_images", 1)
    if not isinstance(max_images, int) or not 1 <= max_images <= 16:
        raise CatalogError(f"{where}: max_images must be 1..16")
    if masked_by_default and max_images != 1:
        raise CatalogError(f"{where}: inpainting takes exactly one image")
    price = (_price(where, raw["upstream_price"], model.sizes, model.qualities, model.custom_sizes is not None)
             if "upstream_price" in raw else None)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise CatalogError(f"{where}: params must be a table")
    return EditRoute(upstream_model=upstream_model, max_images=max_images,
                     mask=bool(raw.get("mask", masked_by_default)), upstream_price=price, params=dict(params))


def _lifecycle(where: str, raw: dict[str, Any]) -> Lifecycle:
    dates: dict[str, dt.date | None] = {}
    for name in ("deprecated_on", "shutdown_on"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise CatalogError(f"{where}: {name} must be a date (YYYY-MM-DD, unquoted)")
        dates[name] = value
    deprecated, shutdown = dates["deprecated_on"], dates["shutdown_on"]
    if deprecated and shutdown and deprecated > shutdown:
        raise CatalogError(f"{where}: deprecated_on is after shutdown_on")
    sources = raw.get("sources", ())
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise CatalogError(f"{where}: sources must be a list of strings")
    successor = raw.get("successor")
    return Lifecycle(deprecated_on=deprecated, shutdown_on=shutdown,
                     successor=str(successor) if successor is not None else None, sources=tuple(sources))


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


def _custom_sizes(where: str, raw: dict[str, Any] | None) -> CustomSizes | None:
    if raw is None:
        return None
    kind = raw.get("kind")
    if kind in ("grid", "exact"):
        custom = CustomSizes(kind=kind, step=int(raw["step"]), min_side=int(raw.get("min_side", raw["step"])),
                             max_side=int(raw["max_side"]), max_ratio=float(raw.get("max_ratio", 0)),
                             min_pixels=int(raw.get("min_pixels", 0)), max_pixels=int(raw.get("max_pixels", 0)))
        if not (0 < custom.step <= custom.min_side <= custom.max_side) or custom.min_side % custom.step \
                or custom.max_side % custom.step:
            raise CatalogError(f"{where}: {kind} needs step <= min_side <= max_side, both multiples of step")
        return custom
    if kind == "nearest_of":
        parsed = [parse_size(str(s)) for s in raw.get("deliverable", ())]
        if not parsed or any(p is None for p in parsed):
            raise CatalogError(f"{where}: nearest_of needs a list of WxH sizes")
        return CustomSizes(kind="nearest_of", deliverable=tuple(p for p in parsed if p is not None))
    raise CatalogError(f"{where}: custom_sizes kind must be 'grid', 'exact' or 'nearest_of'")
