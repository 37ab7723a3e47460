"""Chooses who generates a request: the sandbox for test keys, the model's upstream for live keys."""
from __future__ import annotations

from server.catalog import Catalog, ModelSpec
from server.errors import ProviderUnavailable
from server.providers.base import Provider
from server.store.records import ApiKey


class Router:
    def __init__(self, catalog: Catalog, sandbox: Provider, live: dict[str, Provider] | None = None) -> None:
        self._catalog = catalog
        self._sandbox = sandbox
        self._live = live or {}

    def provider_for(self, caller: ApiKey, model: ModelSpec) -> Provider:
        if caller.is_test:
            return self._sandbox
        provider = self._live.get(model.provider)
        if provider is None:
            spec = self._catalog.providers[model.provider]
            raise ProviderUnavailable(
                f"{model.id} is served by {spec.name}, which is not configured on this gateway: set {spec.env}. "
                "Test keys (pk_test_…) work without it.",
                metadata={"provider": spec.id, "env": spec.env})
        return provider
