"""The provider seam: built-ins and an out-of-tree plugin are found, configured and built the same way."""
from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import CatalogError, load_catalog
from server.catalog.loader import DEFAULT_PATH
from server.providers.registry import declared, plugins_from_env, start_live_providers
from server.providers.settings import ProviderSettings
from tests.fakes.testing import sync


def test_the_built_in_adapters_declare_themselves() -> None:
    plugins = declared()
    assert set(plugins) == {"openai", "stability", "bfl", "ideogram", "google", "fal", "replicate", "together"}
    assert plugins["openai"].settings[0].env == "OPENAI_API_KEY" and plugins["openai"].settings[0].secret
    assert plugins["google"].hint.startswith("GEMINI_API_KEY")


@sync
async def test_an_extra_module_registers_through_the_same_seam_and_reads_its_own_settings(tmp_path: Path) -> None:
    key_file = tmp_path / "echo.key"
    key_file.write_text("s3cret\n")
    env = {"PERF_PROVIDER_MODULES": "tests.providers.echo_plugin", "ECHO_API_KEY_FILE": str(key_file),
           "ECHO_GREETING": "hi"}
    plugins = plugins_from_env(env)
    assert "echo" in plugins and "openai" in plugins
    settings = ProviderSettings.from_env(env)
    assert settings.values_for(plugins["echo"]) == {"ECHO_API_KEY": "s3cret", "ECHO_GREETING": "hi"}
    live = await start_live_providers(settings, plugins)
    try:
        assert set(live.providers) == {"echo"}  # the built-ins have no keys here
        assert live.providers["echo"].greeting == "hi"  # type: ignore[attr-defined]
    finally:
        await live.close()


@sync
async def test_an_unconfigured_provider_is_not_built() -> None:
    live = await start_live_providers(ProviderSettings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}))
    assert live.providers == {} and live.sessions == []


def test_the_catalog_refuses_a_model_of_an_unregistered_provider(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text().replace('provider = "ideogram"', 'provider = "echo"', 1)
    (tmp_path / "models.toml").write_text(text)
    with pytest.raises(CatalogError, match="unknown provider 'echo'"):
        load_catalog(tmp_path / "models.toml")
    catalog = load_catalog(tmp_path / "models.toml", providers=(*declared(), "echo"))
    assert catalog.deployments["ideogram-2/ideogram-v4-turbo"].provider == "echo"
