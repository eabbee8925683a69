"""docker-compose.yml and deploy/rabbitmq/definitions.json, read as files.

No Docker engine is needed (or used): the compose file is parsed with PyYAML, and the
RabbitMQ definitions are compared with what ``worker.topology`` declares, because a queue
declared twice with different arguments is refused by the broker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from worker.config import Settings
from worker.topology import (
    DEAD_QUEUE,
    DEAD_QUEUE_ARGS,
    ENROLLED_KEY,
    ENROLMENT_EXCHANGE,
    PROGRAMME_EXCHANGE,
    WORK_QUEUE,
    WORK_QUEUE_ARGS,
    retry_queue_args,
    retry_queue_name,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
README = ROOT / "README.md"

#: CONTRACT.md: `run` stops within 20 s of SIGTERM.
CONTRACT_STOP_S = 20
#: RabbitMQ 4.x's default quorum-queue delivery limit, which the policy must raise.
RABBITMQ_4_DEFAULT_DELIVERY_LIMIT = 20
DEFAULT_RETRY_DELAYS = Settings.model_fields["retry_delays"].default


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def worker_env(services: dict) -> dict[str, str]:
    env = services["worker"]["environment"]
    assert isinstance(env, dict), "write the worker's environment as a mapping"
    return {name: str(value) for name, value in env.items()}


@pytest.fixture(scope="module")
def definitions() -> dict:
    return json.loads(DEFINITIONS.read_text())


def documented_variables() -> set[str]:
    """The variables of README.md's Configuration tables: CONTRACT.md's, then the additions."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, flags=re.MULTILINE))


def seconds(duration: str) -> float:
    """A compose duration ("20s", "1m30s", "1500ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def queue(definitions: dict, name: str) -> dict:
    matches = [q for q in definitions["queues"] if q["name"] == name]
    assert len(matches) == 1, f"{name} is defined {len(matches)} times"
    return matches[0]


def test_compose_defines_broker_sandbox_worker_prometheus_and_grafana(services: dict) -> None:
    assert {"rabbitmq", "sandbox", "worker", "prometheus", "grafana"} <= set(services)


def test_rabbitmq_starts_alone(services: dict) -> None:
    """scripts/ensure-rabbitmq.sh runs `docker compose up -d rabbitmq`: nothing else comes up."""
    rabbitmq = services["rabbitmq"]
    assert "depends_on" not in rabbitmq
    assert "build" not in rabbitmq
    assert rabbitmq["image"] == "rabbitmq:4-management"


def test_rabbitmq_publishes_amqp_management_and_prometheus_ports(services: dict) -> None:
    published = {str(p).split(":")[-1] for p in services["rabbitmq"]["ports"]}
    assert {"5672", "15672", "15692"} <= published


def test_rabbitmq_healthcheck_pings_the_node(services: dict) -> None:
    test = services["rabbitmq"]["healthcheck"]["test"]
    assert test == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]


def test_rabbitmq_keeps_its_data_on_a_named_volume_under_a_fixed_node_name(
        compose: dict, services: dict) -> None:
    rabbitmq = services["rabbitmq"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in rabbitmq["volumes"]
    assert "rabbitmq-data" in compose["volumes"]
    assert rabbitmq["hostname"] == "rabbitmq"


@pytest.mark.parametrize("name", ["rabbitmq", "sandbox", "worker", "prometheus", "grafana"])
def test_long_running_service_has_a_healthcheck(services: dict, name: str) -> None:
    healthcheck = services[name].get("healthcheck", {})
    assert healthcheck.get("test") and not healthcheck.get("disable", False)


def test_worker_healthcheck_asks_healthz_on_the_metrics_port(services: dict) -> None:
    assert "http://127.0.0.1:9108/healthz" in " ".join(services["worker"]["healthcheck"]["test"])


def test_sandbox_healthcheck_asks_the_sandbox_not_the_workers_healthz(services: dict) -> None:
    check = " ".join(services["sandbox"]["healthcheck"]["test"])
    assert ":8080/" in check
    assert "/healthz" not in check


def test_worker_environment_names_are_documented_variables(worker_env: dict) -> None:
    unknown = set(worker_env) - documented_variables()
    assert not unknown, f"not CONTRACT.md/README.md variables: {sorted(unknown)}"


def test_worker_environment_names_are_settings_the_worker_reads(worker_env: dict) -> None:
    read = {name.upper() for name in Settings.model_fields}
    assert set(worker_env) <= read


def test_worker_talks_to_the_compose_broker_and_sandbox(worker_env: dict) -> None:
    assert worker_env["AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/"
    assert worker_env["ONEFILE_BASE_URL"] == "http://sandbox:8080/api/v2.1"
    assert worker_env["ONEFILE_CUSTOMER_TOKEN"] == "sandbox"


def test_worker_reads_the_demo_mapping_from_a_read_only_mount(
        services: dict, worker_env: dict) -> None:
    assert worker_env["MAPPING_FILE"] == "/config/mapping.yaml"
    assert "./deploy/demo/mapping.yaml:/config/mapping.yaml:ro" in services["worker"]["volumes"]


def test_worker_ledger_lives_on_a_named_volume(
        compose: dict, services: dict, worker_env: dict) -> None:
    assert worker_env["LEDGER_URL"] == "sqlite:////data/onefile-worker.db"
    assert "worker-data:/data" in services["worker"]["volumes"]
    assert "worker-data" in compose["volumes"]


def test_worker_starts_after_the_broker_is_healthy(services: dict) -> None:
    depends_on = services["worker"]["depends_on"]
    assert depends_on["rabbitmq"]["condition"] == "service_healthy"


def test_worker_stop_grace_period_covers_the_contracts_shutdown(services: dict) -> None:
    assert seconds(services["worker"]["stop_grace_period"]) >= CONTRACT_STOP_S


def test_worker_shutdown_grace_leaves_time_to_hand_messages_back(
        services: dict, worker_env: dict) -> None:
    grace_s = float(worker_env.get("SHUTDOWN_GRACE_S",
                                   Settings.model_fields["shutdown_grace_s"].default))
    assert grace_s < seconds(services["worker"]["stop_grace_period"])


def test_sandbox_runs_from_the_worker_image_on_all_interfaces(services: dict) -> None:
    sandbox, worker = services["sandbox"], services["worker"]
    assert sandbox["image"] == worker["image"]
    assert sandbox["build"] == worker["build"]
    assert sandbox["entrypoint"] == ["onefile-sandbox"]
    command = sandbox["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"


def test_bind_mounted_files_exist(services: dict) -> None:
    sources = [v.split(":", 1)[0] for s in services.values() for v in s.get("volumes", [])
               if isinstance(v, str) and v.startswith("./")]
    assert sources
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert not missing, f"bind mounts of missing paths: {missing}"


def test_prometheus_gets_its_config_and_alert_rules_side_by_side(services: dict) -> None:
    """prometheus.yml names alerts.yml relative to itself."""
    volumes = services["prometheus"]["volumes"]
    assert "./deploy/monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes
    assert "./deploy/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in volumes


def test_grafana_provisions_dashboards_for_anonymous_viewers(services: dict) -> None:
    grafana = services["grafana"]
    targets = {v.split(":")[1] for v in grafana["volumes"] if v.startswith("./")}
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= targets
    assert str(grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"]) == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_definitions_job_imports_the_committed_definitions(services: dict) -> None:
    job = services["rabbitmq-definitions"]
    assert "./deploy/rabbitmq/definitions.json:/definitions.json:ro" in job["volumes"]
    assert job["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert (services["worker"]["depends_on"]["rabbitmq-definitions"]["condition"]
            == "service_completed_successfully")


def test_definitions_work_queue_arguments_equal_the_workers(definitions: dict) -> None:
    assert queue(definitions, WORK_QUEUE)["arguments"] == WORK_QUEUE_ARGS


def test_definitions_dead_queue_arguments_equal_the_workers(definitions: dict) -> None:
    assert queue(definitions, DEAD_QUEUE)["arguments"] == DEAD_QUEUE_ARGS


@pytest.mark.parametrize("delay_s", DEFAULT_RETRY_DELAYS)
def test_definitions_retry_queue_arguments_equal_the_workers(
        definitions: dict, delay_s: int) -> None:
    assert queue(definitions, retry_queue_name(delay_s))["arguments"] == retry_queue_args(delay_s)


def test_definitions_hold_exactly_the_workers_queues(definitions: dict) -> None:
    expected = {WORK_QUEUE, DEAD_QUEUE} | {retry_queue_name(d) for d in DEFAULT_RETRY_DELAYS}
    assert sorted(q["name"] for q in definitions["queues"]) == sorted(expected)


def test_definitions_queues_are_durable_and_kept_when_unused(definitions: dict) -> None:
    for q in definitions["queues"]:
        assert (q["vhost"], q["durable"], q["auto_delete"]) == ("/", True, False), q["name"]


def test_definitions_exchanges_are_durable_topics(definitions: dict) -> None:
    exchanges = {e["name"]: e for e in definitions["exchanges"]}
    assert set(exchanges) == {ENROLMENT_EXCHANGE, PROGRAMME_EXCHANGE}
    for e in exchanges.values():
        assert (e["type"], e["durable"], e["auto_delete"], e["internal"]) == (
            "topic", True, False, False)


def test_definitions_bind_the_work_queue_to_learner_enrolled(definitions: dict) -> None:
    bindings = [(b["source"], b["destination"], b["destination_type"], b["routing_key"])
                for b in definitions["bindings"]]
    assert bindings == [(ENROLMENT_EXCHANGE, WORK_QUEUE, "queue", ENROLLED_KEY)]


def test_definitions_policy_raises_the_delivery_limit_on_every_worker_queue(
        definitions: dict) -> None:
    (policy,) = definitions["policies"]
    assert policy["pattern"] == r"^onefile-worker\."
    assert all(re.search(policy["pattern"], q["name"]) for q in definitions["queues"])
    assert policy["definition"]["delivery-limit"] > RABBITMQ_4_DEFAULT_DELIVERY_LIMIT


def test_definitions_policy_is_importable_on_rabbitmq_3_10(definitions: dict) -> None:
    """`quorum_queues` as apply-to arrived in 3.12; Debian 12 ships 3.10."""
    (policy,) = definitions["policies"]
    assert policy["apply-to"] == "queues"
