"""The catalog as an operator sees it (every deployment's lifecycle state, warnings) and provider status."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from perf.admin.v1 import admin_service_pb2 as apb
from server.catalog import Catalog, Deployment, ModelSpec
from server.catalog.lifecycle import Lifecycles
from server.database import Store
from server.database.admin_records import ProviderActivity
from server.pipeline.breakers import Breakers

# The same conversion ImageService uses, so /admin/v1/models and /v1/models describe a model alike.
from server.pipeline.model_views import model_message
from server.providers.plugin import ProviderPlugin
from server.runtime.outages import backend

# A serving deployment shutting down within this many days is a warning on the Models page.
WARN_DAYS = 90
PROVIDER_WINDOW_S = 24 * 60 * 60


def catalog_listing(catalog: Catalog, lifecycles: Lifecycles) -> apb.ListCatalogResponse:
    today = lifecycles.today()
    return apb.ListCatalogResponse(today=today.isoformat(),
                                   data=[_entry(model, catalog, lifecycles, today) for model in catalog.models.values()])


def _entry(model: ModelSpec, catalog: Catalog, lifecycles: Lifecycles, today: dt.date) -> apb.CatalogModel:
    serving = lifecycles.serving(model, today)
    seen: dict[str, apb.DeploymentState] = {}
    for start in model.deployments:
        for deployment in lifecycles.chain(start):
            if deployment.id not in seen:
                seen[deployment.id] = _state(deployment, serving, lifecycles, today)
    view = lifecycles.view(model, today)
    days = view.days_to_shutdown(today)
    # Without the router's deployment list: the same description /v1/models gives a customer key (the
    # circuits show per provider, below, and in /v1/models for operator keys).
    return apb.CatalogModel(model=model_message(model, lifecycles), deployments=list(seen.values()),
                            warning=_warning(serving, days, today),
                            days_to_shutdown=days if days is not None else -1)


def _state(deployment: Deployment, serving: Deployment | None, lifecycles: Lifecycles,
           today: dt.date) -> apb.DeploymentState:
    life = deployment.lifecycle
    gone = lifecycles.gone.get(deployment.id, "")
    if gone:
        state = "gone"
    elif life.shut_by(today):
        state = "shut_down"
    elif serving is not None and deployment.id == serving.id:
        state = "deprecated" if life.deprecated_by(today) else "serving"
    else:
        state = "standby"
    return apb.DeploymentState(id=deployment.id, provider=deployment.provider, upstream_model=deployment.upstream_model,
                               state=state, deprecated_on=_day(life.deprecated_on), shutdown_on=_day(life.shutdown_on),
                               successor=life.successor or "", gone_reason=gone)


def _warning(serving: Deployment | None, days: int | None, today: dt.date) -> str:
    if serving is None:
        return "No live deployment serves this model: every request for it fails."
    life = serving.lifecycle
    where = f"{serving.upstream_model} at {serving.provider}"
    then = f"traffic then moves to {life.successor}" if life.successor else "no successor is set: add one"
    if days is not None and days <= WARN_DAYS:
        return f"{where} shuts down on {life.shutdown_on} (in {days} days); {then}."
    if life.deprecated_by(today):
        return f"{where} is deprecated since {life.deprecated_on}."
    return ""


async def provider_status(store: Store, catalog: Catalog, plugins: Mapping[str, ProviderPlugin],
                          configured: set[str], now: float, breakers: Breakers | None = None) -> apb.ListProvidersResponse:
    with backend("database"):
        activity = await store.provider_activity(int(now) - PROVIDER_WINDOW_S)
    models: dict[str, set[str]] = {}
    for deployment in catalog.deployments.values():
        models.setdefault(deployment.provider, set()).add(deployment.model)
    return apb.ListProvidersResponse(window_seconds=PROVIDER_WINDOW_S, data=[
        _provider(plugin, plugin.id in configured, sorted(models.get(plugin.id, ())),
                  [a for a in activity if a.provider == plugin.id],
                  _circuits(catalog, plugin.id, breakers))
        for plugin in sorted(plugins.values(), key=lambda p: p.id)])


def _circuits(catalog: Catalog, provider: str, breakers: Breakers | None) -> str:
    """The provider's circuits in a phrase: "closed", or which deployments are open or probing."""
    if breakers is None:
        return "closed"
    tripped = []
    for deployment in catalog.deployments.values():
        if deployment.provider == provider:
            state, wait = breakers.view(deployment.id)
            if state != "closed":
                tripped.append(f"{deployment.id} {state}" + (f" ({wait:.0f} s)" if wait else ""))
    return "; ".join(tripped) or "closed"


def _provider(plugin: ProviderPlugin, configured: bool, models: list[str],
              activity: list[ProviderActivity], circuits: str) -> apb.ProviderStatus:
    errors = sorted((a for a in activity if a.error_type), key=lambda a: (-a.requests, a.error_type))
    return apb.ProviderStatus(id=plugin.id, name=plugin.name, configured=configured, env_hint=plugin.hint,
                              models=models, recent_requests=sum(a.requests for a in activity),
                              recent_errors=sum(a.requests for a in errors),
                              recent_errors_by_type=[apb.ErrorCount(type=a.error_type, requests=a.requests)
                                                     for a in errors],
                              breaker_state=circuits)


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
