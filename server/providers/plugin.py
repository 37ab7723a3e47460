"""How an upstream provider declares itself: its settings, how it is built, and what it can do.

Every built-in adapter module in server/providers/adapters/ ends with one ``PROVIDER =
ProviderPlugin(...)``; the registry finds them there (and in modules named by
PERF_PROVIDER_MODULES), so adding an upstream is its module, its catalog data and its fake.
Nothing here is bound to an event loop: ``build`` is called inside the running loop by the
registry, with a ``BuildKit`` that hands out sessions it will close at shutdown.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from server.providers.base import Provider
from server.providers.fetch import Fetcher
from server.providers.images import ImageLimits
from server.providers.upstream import Upstream


@dataclass(frozen=True)
class Setting:
    """One environment variable a provider reads. A secret may also come from ``<env>_FILE``."""

    env: str
    default: str | None = None
    secret: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What the adapter can do beyond text-to-image; the catalog says which models use it."""

    edit: bool = False
    mask: bool = False
    stream: bool = False
    list_models: bool = False


class BuildKit(Protocol):
    """What a provider's builder gets from the registry."""

    @property
    def values(self) -> Mapping[str, str]:
        """This provider's settings, resolved (defaults applied, *_FILE read)."""
        ...

    @property
    def limits(self) -> ImageLimits:
        """The byte and pixel caps every image from this upstream is held to."""
        ...

    @property
    def default_deadline_s(self) -> float: ...

    def connect(self, base_url: str) -> tuple[Upstream, Fetcher]:
        """One session (guarded resolver, concurrency cap) for this provider, closed at shutdown."""
        ...


@dataclass(frozen=True)
class ProviderPlugin:
    id: str  # the catalog's provider id
    name: str  # for people: logs, error messages
    settings: tuple[Setting, ...]
    build: Callable[[BuildKit], Provider]
    # When the provider counts as configured; by default, when its first setting (its key) is set.
    configured: Callable[[Mapping[str, str]], bool] | None = None
    # What an operator must set, as the 503 for an unconfigured provider says it.
    env_hint: str = ""
    default_concurrency: int = 16
    capabilities: Capabilities = field(default_factory=Capabilities)
    # Regional endpoints a catalog deployment may name as its `region` (BFL: "eu", "us").
    regions: tuple[str, ...] = ()

    def is_configured(self, values: Mapping[str, str]) -> bool:
        if self.configured is not None:
            return self.configured(values)
        return bool(values.get(self.settings[0].env))

    @property
    def hint(self) -> str:
        return self.env_hint or self.settings[0].env

    @property
    def concurrency_env(self) -> str:
        return f"PERF_{self.id.upper()}_MAX_CONCURRENCY"
