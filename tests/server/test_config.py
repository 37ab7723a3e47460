"""Settings read from files (container secrets), the database password, TLS pairs, and the probe's choice."""
from __future__ import annotations

from pathlib import Path

import pytest

from contract.grpc_tls import ClientTls, ServerTls
from gateway.config import GatewaySettings
from server.runtime.config import SECRET_SETTINGS, ServerSettings
from server.runtime.probe import container_process


def secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")  # files written by editors and `echo` end in a newline
    return str(path)


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_every_secret_setting_is_read_from_its_file(tmp_path: Path, name: str) -> None:
    env = {"PERF_DATABASE_URL": "postgresql://perf@db:5432/perf"} if name == "PERF_DATABASE_PASSWORD" else {}
    env[f"{name}_FILE"] = secret_file(tmp_path, name, "from-a-file")
    settings = ServerSettings.from_env(env)
    read = {"PERF_SECRET": settings.secret, "PERF_DATABASE_URL": settings.database_url,
            "PERF_DATABASE_PASSWORD": settings.database_url, "PERF_REDIS_URL": settings.redis_url}[name]
    assert read is not None and "from-a-file" in read
    assert "\n" not in read


def test_the_variable_wins_over_its_file(tmp_path: Path) -> None:
    env = {"PERF_SECRET": "direct", "PERF_SECRET_FILE": secret_file(tmp_path, "s", "from-file")}
    assert ServerSettings.from_env(env).secret == "direct"


def test_a_missing_secret_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ServerSettings.from_env({"PERF_SECRET_FILE": str(tmp_path / "absent")})


def test_database_password_is_put_into_the_url_encoded(tmp_path: Path) -> None:
    env = {"PERF_DATABASE_URL": "postgresql://perf@postgres:5432/perf?sslmode=disable",
           "PERF_DATABASE_PASSWORD_FILE": secret_file(tmp_path, "pw", "p@ss:w/rd%")}
    url = ServerSettings.from_env(env).database_url
    assert url == "postgresql://perf:p%40ss%3Aw%2Frd%25@postgres:5432/perf?sslmode=disable"


@pytest.mark.parametrize("env", [
    {"PERF_DATABASE_PASSWORD": "x"},
    {"PERF_DATABASE_URL": "postgresql://perf:inline@db/perf", "PERF_DATABASE_PASSWORD": "x"},
])
def test_database_password_needs_one_url_without_a_password(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PERF_DATABASE_"):
        ServerSettings.from_env(env)


def test_no_tls_unless_configured() -> None:
    assert not ServerSettings.from_env({}).tls.enabled
    assert not GatewaySettings.from_env({}).tls.enabled


@pytest.mark.parametrize("env", [
    {"PERF_GRPC_TLS_CERT_FILE": "/c.pem"},
    {"PERF_GRPC_TLS_KEY_FILE": "/k.pem"},
    {"PERF_GRPC_TLS_CLIENT_CA_FILE": "/ca.pem"},
])
def test_server_tls_settings_must_be_complete(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PERF_GRPC_TLS_"):
        ServerTls.from_env(env)


def test_client_tls_settings() -> None:
    tls = ClientTls.from_env({"PERF_GRPC_TLS_CA_FILE": "/ca.pem", "PERF_GRPC_TLS_SERVER_NAME": "perf-server"})
    assert tls.enabled and tls.options() == [("grpc.ssl_target_name_override", "perf-server")]
    with pytest.raises(ValueError, match="CLIENT_KEY_FILE"):
        ClientTls.from_env({"PERF_GRPC_TLS_CA_FILE": "/ca.pem", "PERF_GRPC_TLS_CLIENT_CERT_FILE": "/c.pem"})


@pytest.mark.parametrize(("cmdline", "process"), [
    (b"python\0-m\0gateway\0", "gateway"),
    (b"/usr/local/bin/python\0-m\0server\0", "server"),
    (b"python\0-m\0server.keys\0create\0", "server"),
    (b"sleep\0gateway\0", "server"),
])
def test_probe_checks_the_process_the_container_runs(tmp_path: Path, cmdline: bytes, process: str) -> None:
    path = tmp_path / "cmdline"
    path.write_bytes(cmdline)
    assert container_process(path) == process


def test_probe_defaults_to_the_server_outside_a_container(tmp_path: Path) -> None:
    assert container_process(tmp_path / "absent") == "server"
