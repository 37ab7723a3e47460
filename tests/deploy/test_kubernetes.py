"""The Kubernetes manifests agree with the code: ports, probes, env names, grace periods, security.

Rendered with `kubectl kustomize` (skipped where kubectl is absent), then checked against the
settings dataclasses and the gateway's routes, fed with the manifests' own ConfigMap and env.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from gateway.app import build_app
from gateway.config import GatewaySettings
from server.runtime.app import ACCOUNTING_DRAIN_S, SERVICE_NAME
from server.runtime.config import ServerSettings
from tests.deploy.known_settings import ROOT, secret_files, unknown

KUSTOMIZATIONS = ("base", "overlays/example")
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@dataclass
class Rendered:
    docs: list[dict[str, Any]]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def config(self, container: dict[str, Any]) -> dict[str, str]:
        """The environment a container gets: its ConfigMaps, then its literal env (as Kubernetes orders them)."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env.update(self.one("ConfigMap", source["configMapRef"]["name"])["data"])
        env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
        return env


def render(path: str) -> Rendered:
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy/kubernetes" / path)], capture_output=True,
                         text=True, check=True).stdout
    return Rendered([d for d in yaml.safe_load_all(out) if d])


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


def pod(rendered: Rendered, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = rendered.one("Deployment", name)["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return spec, container


def without_files(env: dict[str, str]) -> dict[str, str]:
    """Settings minus the secret files read while settings load: those exist only inside the pod."""
    return {k: v for k, v in env.items() if k not in secret_files()}


def prestop_sleep(container: dict[str, Any]) -> float:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return float(command[1])


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def test_server_ports_and_native_grpc_probes(rendered: Rendered) -> None:
    spec, container = pod(rendered, "perf-server")
    settings = ServerSettings.from_env(without_files(rendered.config(container)))
    assert port_number(container, "grpc") == settings.grpc_port
    assert settings.grpc_host == "0.0.0.0"  # the kubelet probes the pod IP, never loopback
    probe_port = settings.health_port if settings.health_port is not None else settings.grpc_port
    assert settings.health_port is None or settings.tls.enabled  # the plaintext port exists for TLS only
    assert container["livenessProbe"]["grpc"] == {"port": probe_port, "service": ""}
    assert container["startupProbe"]["grpc"] == {"port": probe_port, "service": ""}
    assert container["readinessProbe"]["grpc"] == {"port": probe_port, "service": SERVICE_NAME}
    assert probe_port in {p["containerPort"] for p in container["ports"]}


def test_gateway_ports_and_http_probes_name_real_routes(rendered: Rendered) -> None:
    _, container = pod(rendered, "perf-gateway")
    settings = GatewaySettings.from_env(without_files(rendered.config(container)))
    assert port_number(container, "http") == settings.http_port and settings.http_host == "0.0.0.0"
    routes = {resource.canonical for resource in build_app(settings).router.resources()}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"]["path"] == path and path in routes
        assert port_number(container, container[probe]["httpGet"]["port"]) == settings.http_port


def test_gateways_balance_over_the_headless_server_service(rendered: Rendered) -> None:
    _, gateway = pod(rendered, "perf-gateway")
    _, server = pod(rendered, "perf-server")
    headless = rendered.one("Service", "perf-server-headless")["spec"]
    assert headless["clusterIP"] == "None"
    server_labels = rendered.one("Deployment", "perf-server")["spec"]["template"]["metadata"]["labels"]
    assert headless["selector"].items() <= server_labels.items()
    target = GatewaySettings.from_env(without_files(rendered.config(gateway))).grpc_target
    match = re.fullmatch(r"dns:///perf-server-headless(\.\$\(POD_NAMESPACE\)\.svc)?:(\d+)", target)
    assert match, target
    [port] = headless["ports"]
    assert int(match.group(2)) == port["port"] and port_number(server, port["targetPort"]) == port["port"]
    gateway_service = rendered.one("Service", "perf-gateway")["spec"]
    assert port_number(gateway, gateway_service["ports"][0]["targetPort"]) == 8080


def test_grace_periods_cover_prestop_drain_and_shutdown(rendered: Rendered) -> None:
    spec, container = pod(rendered, "perf-server")
    server = ServerSettings.from_env(without_files(rendered.config(container)))
    needed = prestop_sleep(container) + server.drain_s + server.shutdown_grace_s + ACCOUNTING_DRAIN_S
    assert spec["terminationGracePeriodSeconds"] > needed
    # The drain outlasts a readiness period, so the kubelet sees NOT_SERVING before the port closes.
    assert server.drain_s >= container["readinessProbe"]["periodSeconds"]
    spec, container = pod(rendered, "perf-gateway")
    gateway = GatewaySettings.from_env(without_files(rendered.config(container)))
    assert spec["terminationGracePeriodSeconds"] > prestop_sleep(container) + gateway.shutdown_timeout_s
    assert gateway.shutdown_timeout_s >= server.shutdown_grace_s  # the gateway waits for what the server finishes


def test_every_env_name_is_read_by_the_code(rendered: Rendered) -> None:
    for name in ("perf-server", "perf-gateway"):
        _, container = pod(rendered, name)
        names = set(rendered.config(container)) | {e["name"] for e in container.get("env", [])}
        assert unknown(names - {"POD_NAMESPACE"}) == set(), name


def test_secret_files_come_from_mounted_secrets(rendered: Rendered) -> None:
    for name in ("perf-server", "perf-gateway"):
        spec, container = pod(rendered, name)
        secret_volumes = {v["name"] for v in spec["volumes"] if "secret" in v}
        secret_mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in secret_volumes]
        assert all(m.get("readOnly") for m in container["volumeMounts"] if m["name"] in secret_volumes)
        for variable, value in rendered.config(container).items():
            if variable.endswith("_FILE"):
                assert any(value.startswith(mount + "/") for mount in secret_mounts), (name, variable, value)
    _, server = pod(rendered, "perf-server")
    assert {"PERF_SECRET_FILE", "PERF_DATABASE_URL_FILE", "PERF_REDIS_URL_FILE"} <= set(rendered.config(server))


def test_pods_are_locked_down_and_write_only_to_their_volumes(rendered: Rendered) -> None:
    user = int(re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.M).group(1))  # type: ignore[union-attr]
    for name in ("perf-server", "perf-gateway"):
        spec, container = pod(rendered, name)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == user
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        context = container["securityContext"]
        assert context == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                           "capabilities": {"drop": ["ALL"]}}
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert "/tmp" in writable
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    _, server = pod(rendered, "perf-server")
    settings = ServerSettings.from_env(without_files(rendered.config(server)))
    assert str(settings.data_dir) in {m["mountPath"] for m in server["volumeMounts"]}
    limit = server["resources"]["limits"]["memory"]
    assert limit.endswith("Gi") and int(limit[:-2]) * 1024**3 > settings.max_inflight_image_bytes


def test_each_deployment_has_a_disruption_budget_and_an_autoscaler(rendered: Rendered) -> None:
    for name in ("perf-server", "perf-gateway"):
        labels = rendered.one("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        budget = rendered.one("PodDisruptionBudget", name)["spec"]
        assert budget["selector"]["matchLabels"].items() <= labels.items() and budget["maxUnavailable"] == 1
        scaler = rendered.one("HorizontalPodAutoscaler", name)["spec"]
        assert scaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert scaler["minReplicas"] >= 2  # with maxUnavailable 1, one pod always serves


def test_the_example_overlay_terminates_https_before_the_gateway() -> None:
    ingress = render("overlays/example").one("Ingress", "perf-gateway")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "perf-gateway", "port": {"name": "http"}} and ingress["spec"]["tls"]
    timeout = float(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"])
    assert timeout > GatewaySettings.from_env({"PERF_REQUEST_TIMEOUT_SECONDS": "120"}).request_timeout_s


def test_prometheus_annotations_name_the_metrics_endpoints(rendered: Rendered) -> None:
    _, server = pod(rendered, "perf-server")
    server_settings = ServerSettings.from_env(without_files(rendered.config(server)))
    server_notes = rendered.one("Deployment", "perf-server")["spec"]["template"]["metadata"]["annotations"]
    assert server_settings.metrics_port is not None
    assert int(server_notes["prometheus.io/port"]) == server_settings.metrics_port == port_number(server, "metrics")
    assert server_notes["prometheus.io/path"] == "/metrics"  # the exporter's one route (server/runtime/metrics.py)
    _, gateway = pod(rendered, "perf-gateway")
    gateway_settings = GatewaySettings.from_env(without_files(rendered.config(gateway)))
    gateway_notes = rendered.one("Deployment", "perf-gateway")["spec"]["template"]["metadata"]["annotations"]
    assert int(gateway_notes["prometheus.io/port"]) == gateway_settings.http_port
    routes = {resource.canonical for resource in build_app(gateway_settings).router.resources()}
    assert gateway_notes["prometheus.io/path"] in routes
