"""compose.yaml agrees with the code, and `make compose-secrets` makes every file it mounts."""
from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import GatewaySettings
from scripts.compose_secrets import PROVIDER_KEYS, write_secrets
from server.keys.bootstrap import parse_bootstrap_keys
from server.runtime.app import ACCOUNTING_DRAIN_S
from server.runtime.config import ServerSettings
from tests.deploy.known_settings import ROOT, secret_files, unknown

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DATA_DIR = re.search(r"PERF_DATA_DIR=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)  # type: ignore[union-attr]


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match.group(1))


def settings_env(service: str) -> dict[str, str]:
    """The service's environment as the process sees it, minus files that exist only in the container."""
    env = {k: str(v) for k, v in SERVICES[service]["environment"].items()}
    return {k: v for k, v in env.items() if k not in secret_files()}


def test_every_env_name_is_read_by_the_code() -> None:
    for service in ("server", "gateway"):
        assert unknown(set(SERVICES[service]["environment"])) == set(), service


def test_each_long_running_service_has_a_healthcheck_and_a_restart_policy() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no":  # a one-shot job
            continue
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service["restart"] == "unless-stopped", name
    # Each of our processes gets its own probe: the gateway's is HTTP /readyz, the server's gRPC health.
    assert SERVICES["server"]["healthcheck"]["test"][1:] == ["python", "-m", "server.runtime.probe", "server"]
    assert SERVICES["gateway"]["healthcheck"]["test"][1:] == ["python", "-m", "server.runtime.probe", "gateway"]


def test_every_secret_file_is_mounted_and_made_by_compose_secrets(tmp_path: Path) -> None:
    declared = COMPOSE["secrets"]
    for name, service in SERVICES.items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared), name
        for variable, value in service.get("environment", {}).items():
            if variable.endswith("_FILE"):
                assert value.startswith("/run/secrets/") and value.removeprefix("/run/secrets/") in mounted, variable
    made = set(write_secrets(tmp_path / "secrets"))
    assert {Path(secret["file"]).name for secret in declared.values()} == made
    assert {f"{p.upper()}_FILE" for p in PROVIDER_KEYS} <= set(SERVICES["server"]["environment"])


def test_database_password_and_names_match_postgres() -> None:
    server = SERVICES["server"]["environment"]
    postgres = SERVICES["postgres"]["environment"]
    assert server["PERF_DATABASE_PASSWORD_FILE"] == postgres["POSTGRES_PASSWORD_FILE"]
    url = re.fullmatch(r"postgresql://(\w+)@postgres:5432/(\w+)", server["PERF_DATABASE_URL"])
    assert url and url.groups() == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]  # keys and ledger survive `down`


def test_ports_targets_and_grace_periods_match_the_settings() -> None:
    server = ServerSettings.from_env(settings_env("server") | {"PERF_GRPC_HOST": "0.0.0.0"})
    gateway = GatewaySettings.from_env(settings_env("gateway"))
    published = SERVICES["gateway"]["ports"][0]
    assert published.startswith("${PERF_HTTP_PUBLISH:-") and published.endswith(f":{gateway.http_port}")
    assert gateway.grpc_target == f"dns:///server:{server.grpc_port}"
    needed = server.drain_s + server.shutdown_grace_s + ACCOUNTING_DRAIN_S
    assert seconds(SERVICES["server"]["stop_grace_period"]) > needed
    assert seconds(SERVICES["gateway"]["stop_grace_period"]) > gateway.shutdown_timeout_s
    # Measured by hand (`docker stop` of the seaweedfs container): 25 s to a clean exit 0, not 137.
    assert seconds(SERVICES["seaweedfs"]["stop_grace_period"]) >= 30


@pytest.mark.parametrize("service", ["server", "gateway"])
def test_our_containers_run_read_only_writing_only_volumes_and_tmp(service: str) -> None:
    spec = SERVICES[service]
    assert spec["read_only"] is True and spec["tmpfs"] == ["/tmp"] and spec["cap_drop"] == ["ALL"]
    for volume in spec.get("volumes", []):
        assert volume.split(":")[1].startswith(DATA_DIR), volume


def test_compose_secrets_never_overwrites_and_keeps_others_out(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    write_secrets(folder)
    (folder / "openai_api_key").write_text("sk-mine\n")
    first = (folder / "bootstrap_keys.toml").read_text()
    assert write_secrets(folder) == []
    assert (folder / "openai_api_key").read_text() == "sk-mine\n"
    assert (folder / "bootstrap_keys.toml").read_text() == first
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "perf_secret").stat().st_mode) == 0o644  # readable by the containers' users
    [key] = parse_bootstrap_keys(first)
    assert key.mode == "live"
    assert (folder / "gemini_api_key").read_text() == ""  # an empty file leaves that provider unconfigured
