"""Which deployment serves a public model on a given day, and what its lifecycle looks like from outside.

A deployment is live until its `shutdown_on` date, or until an upstream answers that the model is
gone (`retire`, from that moment, without a restart). A dead deployment hands its traffic to its
successor, and so on down the chain; a model whose every chain ends dead has no live deployment,
which `check_lifecycle` refuses at start-up (and `python -m server.catalog check` reports ahead).

Status seen by callers (GET /v1/models, `lifecycle.status`):
    active      served by a deployment that is not deprecated
    deprecated  served by a deployment past its deprecated_on (its shutdown_on says when it moves)
    retired     nothing left to serve it
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from server.catalog.model import Catalog, Deployment, ModelSpec

log = logging.getLogger("perf.catalog")


class LifecycleError(ValueError):
    """The catalog would leave a public model without a live deployment; the message names it."""


@dataclass(frozen=True)
class LifecycleView:
    status: str
    served_by: Deployment | None
    deprecated_on: dt.date | None
    shutdown_on: dt.date | None

    def days_to_shutdown(self, today: dt.date) -> int | None:
        return (self.shutdown_on - today).days if self.shutdown_on else None


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Lifecycles:
    """The catalog's lifecycle as of `today()`, plus deployments upstreams reported gone since start."""

    def __init__(self, catalog: Catalog, today: Callable[[], dt.date] = utc_today) -> None:
        self._catalog = catalog
        self.today = today
        self._gone: dict[str, str] = {}  # deployment id -> why
        # live_chain's answers, asked twice per request (route, then failover): they change only with
        # the day or a retirement, which clears them.
        self._chains: dict[tuple[dt.date, tuple[str, ...]], tuple[Deployment, ...]] = {}

    def live(self, deployment: Deployment, day: dt.date | None = None) -> bool:
        return deployment.id not in self._gone and not deployment.lifecycle.shut_by(day or self.today())

    def chain(self, start: str) -> list[Deployment]:
        """`start` and its successors, in order (the loader guarantees the chain ends)."""
        found = [self._catalog.deployments[start]]
        while found[-1].lifecycle.successor is not None:
            found.append(self._catalog.deployments[found[-1].lifecycle.successor])
        return found

    def serving(self, model: ModelSpec, day: dt.date | None = None) -> Deployment | None:
        """The deployment that serves `model` on `day`: the first live one of its first chain that has one."""
        found = self.live_chain(model, day)
        return found[0] if found else None

    def live_chain(self, model: ModelSpec, day: dt.date | None = None) -> list[Deployment]:
        """`model`'s live deployments on `day` in the order they are tried: for each deployment the model
        lists, the first live one of its successor chain. The first serves; the rest are its fallbacks,
        so a shut-down or retired deployment drops out and its successor takes its place."""
        day = day or self.today()
        key = (day, model.deployments)
        known = self._chains.get(key)
        if known is None:
            found: list[Deployment] = []
            for start in model.deployments:
                live = next((d for d in self.chain(start) if self.live(d, day)), None)
                if live is not None and all(d.id != live.id for d in found):
                    found.append(live)
            if len(self._chains) >= 4096:  # past days' answers, or a test's many catalogs
                self._chains.clear()
            known = self._chains[key] = tuple(found)
        return list(known)

    def retire(self, deployment: Deployment, why: str) -> None:
        """The upstream says this model is gone: treat the deployment as shut down from now on."""
        if deployment.id in self._gone:
            return
        self._gone[deployment.id] = why
        self._chains.clear()
        successor = deployment.lifecycle.successor or "nothing (no successor)"
        log.error("deployment %s (%s %s) is gone upstream (%s); its traffic moves to %s", deployment.id,
                  deployment.provider, deployment.upstream_model, why, successor)

    @property
    def gone(self) -> dict[str, str]:
        return dict(self._gone)

    def view(self, model: ModelSpec, day: dt.date | None = None) -> LifecycleView:
        day = day or self.today()
        serving = self.serving(model, day)
        if serving is None:
            return LifecycleView("retired", None, None, None)
        life = serving.lifecycle
        status = "deprecated" if life.deprecated_by(day) else "active"
        return LifecycleView(status, serving, life.deprecated_on, life.shutdown_on)

    def warnings(self, day: dt.date, horizon_days: int) -> list[tuple[Deployment, int]]:
        """Deployments now serving traffic that shut down within `horizon_days`, with the days left."""
        found = []
        for model in self._catalog.models.values():
            serving = self.serving(model, day)
            if serving is not None and serving.lifecycle.shutdown_on is not None:
                left = (serving.lifecycle.shutdown_on - day).days
                if 0 <= left <= horizon_days:
                    found.append((serving, left))
        return found


def check_lifecycle(catalog: Catalog, day: dt.date) -> None:
    """Refuse a catalog that leaves any public model without a live deployment on `day`."""
    lifecycles = Lifecycles(catalog, lambda: day)
    for model in catalog.models.values():
        if lifecycles.serving(model, day) is None:
            chains = "; ".join(" -> ".join(f"{d.id} (shut down {d.lifecycle.shutdown_on})" for d in lifecycles.chain(s))
                               for s in model.deployments)
            raise LifecycleError(f"model {model.id} has no live deployment on {day}: every successor chain ends in a "
                                 f"shut-down deployment ({chains}); add a successor")
