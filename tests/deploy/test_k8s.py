"""deploy/k8s: the example overlay renders a deployment that keeps the worker's promises.

kubectl must be in .venv/bin or on PATH (or named by $KUBECTL): `make test` runs
scripts/check-k8s.sh, which installs it when missing. These tests fail, never skip,
without it. Rendering is offline (`kubectl kustomize`); no cluster is involved.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from worker.config import Settings

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "example"
DEMO_MAPPING = ROOT / "deploy" / "demo" / "mapping.yaml"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"

#: CONTRACT.md: `run` stops within 20 s of SIGTERM; Kubernetes must wait at least that long,
#: plus a margin for the process to exit, before it sends SIGKILL.
CONTRACT_STOP_S = 20
KILL_MARGIN_S = 5
METRICS_PORT = 9108
EXPECTED_KINDS = {"Namespace", "ConfigMap", "Secret", "Service", "Deployment",
                  "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"}


def kubectl() -> str:
    candidates = [os.environ.get("KUBECTL"), str(ROOT / ".venv" / "bin" / "kubectl"),
                  shutil.which("kubectl")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("kubectl is not in .venv/bin nor on PATH: run scripts/check-k8s.sh "
                         "(`make test` does), which installs it")


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    result = subprocess.run([kubectl(), "kustomize", str(OVERLAY)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, f"kubectl kustomize failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def objects(rendered: list[dict], kind: str) -> list[dict]:
    return [o for o in rendered if o["kind"] == kind]


def one(rendered: list[dict], kind: str, name: str = "onefile-worker") -> dict:
    """The one ``kind`` named ``name``, or ``name`` plus the hash kustomize gives generated ones."""
    pattern = re.compile(rf"{re.escape(name)}(-[a-z0-9]{{10}})?")
    found = [o for o in objects(rendered, kind) if pattern.fullmatch(o["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} objects named {name}"
    return found[0]


@pytest.fixture(scope="module")
def deployment(rendered: list[dict]) -> dict:
    return one(rendered, "Deployment")


@pytest.fixture(scope="module")
def pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod: dict) -> dict:
    (worker,) = pod["containers"]
    return worker


@pytest.fixture(scope="module")
def settings(rendered: list[dict]) -> dict[str, str]:
    return one(rendered, "ConfigMap", "onefile-worker-config")["data"]


def selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


def test_overlay_renders_every_kind_the_deployment_needs(rendered: list[dict]) -> None:
    assert {o["kind"] for o in rendered} >= EXPECTED_KINDS


def test_deployment_runs_an_active_consumer_and_a_hot_standby(deployment: dict) -> None:
    assert deployment["spec"]["replicas"] == 2


def test_rolling_update_never_goes_below_two_pods(deployment: dict) -> None:
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_container_runs_the_worker(container: dict) -> None:
    assert container["args"] == ["run"]


def test_container_exposes_metrics_on_9108(container: dict, settings: dict) -> None:
    assert {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"} in (
        container["ports"])
    assert settings["METRICS_PORT"] == str(METRICS_PORT)


def test_liveness_probe_asks_healthz_on_the_metrics_port(container: dict) -> None:
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/healthz", "metrics")


def test_readiness_probe_asks_readyz_on_the_metrics_port(container: dict) -> None:
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/readyz", "metrics")


def test_termination_grace_covers_the_contracts_shutdown_with_a_margin(pod: dict) -> None:
    assert pod["terminationGracePeriodSeconds"] >= CONTRACT_STOP_S + KILL_MARGIN_S


def test_shutdown_grace_ends_before_the_contracts_20_seconds(settings: dict) -> None:
    assert float(settings["SHUTDOWN_GRACE_S"]) == 15
    assert float(settings["SHUTDOWN_GRACE_S"]) < CONTRACT_STOP_S


def test_pod_runs_as_a_non_root_user(pod: dict, container: dict) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_root_filesystem_is_read_only_with_an_empty_dir_for_tmp(
        pod: dict, container: dict) -> None:
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp["name"]]
    assert "emptyDir" in volume


def test_container_sets_cpu_and_memory_requests_and_limits(container: dict) -> None:
    resources = container["resources"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[bound]), bound


def test_settings_come_from_the_rendered_configmap_and_secret(
        rendered: list[dict], container: dict) -> None:
    config = one(rendered, "ConfigMap", "onefile-worker-config")["metadata"]["name"]
    secret = one(rendered, "Secret", "onefile-worker-secrets")["metadata"]["name"]
    assert container["envFrom"] == [{"configMapRef": {"name": config}},
                                    {"secretRef": {"name": secret}}]


def test_configmap_and_secret_keys_are_settings_the_worker_reads(rendered: list[dict],
                                                                 settings: dict) -> None:
    read = {name.upper() for name in Settings.model_fields}
    secret = one(rendered, "Secret", "onefile-worker-secrets")["stringData"]
    assert set(settings) | set(secret) <= read


def test_secret_carries_the_token_the_broker_and_a_postgresql_ledger(
        rendered: list[dict]) -> None:
    secret = one(rendered, "Secret", "onefile-worker-secrets")["stringData"]
    assert set(secret) == {"ONEFILE_CUSTOMER_TOKEN", "AMQP_URL", "LEDGER_URL"}
    assert secret["LEDGER_URL"].startswith("postgresql://"), "two replicas need one ledger"
    assert secret["AMQP_URL"].startswith(("amqp://", "amqps://"))


def test_mapping_configmap_holds_the_demo_mappings_courses(rendered: list[dict]) -> None:
    data = one(rendered, "ConfigMap", "onefile-worker-mapping")["data"]
    demo = yaml.safe_load(DEMO_MAPPING.read_text())
    assert yaml.safe_load(data["mapping.yaml"])["courses"] == demo["courses"]


def test_mapping_is_mounted_where_mapping_file_points(
        rendered: list[dict], pod: dict, container: dict, settings: dict) -> None:
    mapping = one(rendered, "ConfigMap", "onefile-worker-mapping")["metadata"]["name"]
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == mapping]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    directory, filename = posixpath.split(settings["MAPPING_FILE"])
    assert (mount["mountPath"], filename) == (directory, "mapping.yaml")


def test_disruption_budget_keeps_one_worker_pod_available(
        rendered: list[dict], deployment: dict) -> None:
    budget = one(rendered, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1
    assert selects(budget["selector"]["matchLabels"],
                   deployment["spec"]["template"]["metadata"]["labels"])


def test_service_exposes_the_worker_pods_metrics_port(
        rendered: list[dict], deployment: dict) -> None:
    service = one(rendered, "Service")["spec"]
    assert selects(service["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    assert {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics",
            "protocol": "TCP"} in service["ports"]


def test_service_keeps_unready_pods_scraped(rendered: list[dict]) -> None:
    """An open circuit makes a pod unready; that is when its metrics matter most."""
    assert one(rendered, "Service")["spec"]["publishNotReadyAddresses"] is True


def test_service_monitor_scrapes_the_services_metrics_port(rendered: list[dict]) -> None:
    service = one(rendered, "Service")
    monitor = one(rendered, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")


def test_service_name_is_the_job_the_alert_rules_expect(rendered: list[dict]) -> None:
    assert one(rendered, "Service")["metadata"]["name"] == "onefile-worker"


def test_prometheus_rule_carries_the_alert_rules_of_deploy_monitoring(
        rendered: list[dict]) -> None:
    rule = one(rendered, "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"], (
        "run scripts/check-k8s.sh --sync")


def test_rabbitmq_definitions_configmap_equals_deploy_rabbitmq(rendered: list[dict]) -> None:
    configmap = one(rendered, "ConfigMap", "onefile-worker-rabbitmq-definitions")
    assert configmap["metadata"]["name"] == "onefile-worker-rabbitmq-definitions", (
        "referenced from a RabbitmqCluster: no name hash")
    assert json.loads(configmap["data"]["definitions.json"]) == json.loads(
        DEFINITIONS.read_text()), "run scripts/check-k8s.sh --sync"


def test_network_policy_admits_only_metrics_scrapes(rendered: list[dict]) -> None:
    (rule,) = one(rendered, "NetworkPolicy")["spec"]["ingress"]
    assert rule["ports"] == [{"port": METRICS_PORT, "protocol": "TCP"}]


def test_network_policy_lets_out_dns_broker_ledger_and_https_only(
        rendered: list[dict]) -> None:
    policy = one(rendered, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (5672, "TCP"), (5671, "TCP"), (5432, "TCP"),
                     (443, "TCP")}


def test_network_policy_selects_the_worker_pods(
        rendered: list[dict], deployment: dict) -> None:
    selector = one(rendered, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert selects(selector, deployment["spec"]["template"]["metadata"]["labels"])
