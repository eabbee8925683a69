"""deploy/monitoring: alert rules, Prometheus config and the Grafana dashboard.

promtool must be on PATH (Debian's `prometheus` package; `make test` runs
scripts/check-monitoring.sh, which installs it): these tests fail, never skip, without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from worker import metrics
from worker.topology import DEAD_QUEUE, WORK_QUEUE, retry_queue_name

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERTS_TEST = MONITORING / "alerts_test.yml"
PROMETHEUS = MONITORING / "prometheus.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "onefile-worker.json"
PROVISIONING = MONITORING / "grafana" / "provisioning"
CHECK_SCRIPT = ROOT / "scripts" / "check-monitoring.sh"

# Labels that would make a series per learner or per message (and may carry personal data).
PER_MESSAGE_LABELS = {"learner_id", "learner", "event_id", "message_id", "correlation_id",
                      "token", "customer_token", "course_code"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def identifiers(text: str) -> set[str]:
    """Metric, label and function names in a PromQL expression or legend (strings removed)."""
    return set(_IDENTIFIER.findall(_STRING.sub(" ", text)))


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, ("promtool is not on PATH: install Debian's prometheus package "
                  "(`make test` does, through scripts/check-monitoring.sh)")
    return path


def run(*args: str | Path, cwd: Path = MONITORING,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def all_panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_targets() -> list[dict]:
    return [t for p in all_panels(dashboard()["panels"]) for t in p.get("targets", [])]


def exposed_names(family: Metric) -> set[str]:
    """The sample names Prometheus sees for one metric family."""
    match family.type:
        case "counter":
            return {f"{family.name}_total"}
        case "histogram":
            return {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        case "info":
            return {f"{family.name}_info"}
        case _:
            return {family.name}


def metric_families() -> list[Metric]:
    return [family for name in metrics.__all__ for family in getattr(metrics, name).describe()]


# --- promtool ---------------------------------------------------------------------------------

def test_promtool_is_on_path():
    promtool()


def test_alert_rules_pass_promtool_check_rules():
    result = run(promtool(), "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool_check_config():
    result = run(promtool(), "check", "config", PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass_promtool_test_rules():
    result = run(promtool(), "test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_monitoring_script_passes_on_the_committed_files():
    promtool()  # the script would install it; here it must already be there
    result = run(CHECK_SCRIPT, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_monitoring_script_exits_non_zero_on_a_broken_rule(tmp_path):
    promtool()
    for path in MONITORING.glob("*.yml"):
        shutil.copy(path, tmp_path / path.name)
    broken = tmp_path / "alerts.yml"
    broken.write_text(broken.read_text().replace(
        "expr: up{job=\"onefile-worker\"} == 0", "expr: up{job=\"onefile-worker\" == 0", 1))
    result = run(CHECK_SCRIPT, cwd=ROOT, env={**os.environ, "MONITORING_DIR": str(tmp_path)})
    assert result.returncode != 0, result.stdout + result.stderr


def test_every_dashboard_expression_is_valid_promql(tmp_path):
    rules = [{"record": f"dashboard:expr_{i}",
              "expr": t["expr"].replace("$__rate_interval", "1m").replace("$__interval", "1m")}
             for i, t in enumerate(dashboard_targets())]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool(), "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- alert rules ------------------------------------------------------------------------------

def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook_url():
    problems = []
    for rule in alert_rules():
        if rule.get("labels", {}).get("severity") not in {"critical", "warning"}:
            problems.append(f"{rule['alert']}: severity must be critical or warning")
        for key in ("summary", "description", "runbook_url"):
            if not rule.get("annotations", {}).get(key, "").strip():
                problems.append(f"{rule['alert']}: no {key} annotation")
    assert not problems, problems


def test_every_runbook_url_points_at_the_alerts_section_of_the_operations_guide():
    wrong = {rule["alert"]: rule["annotations"]["runbook_url"] for rule in alert_rules()
             if rule["annotations"]["runbook_url"]
             != f"docs/OPERATIONS.md#alert-{rule['alert'].lower()}"}
    assert not wrong, wrong


def test_alert_names_are_unique():
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), names


def test_the_issues_alerts_are_all_defined():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"OnefileDeadLetterQueueGrowing", "OnefileWorkerNoActiveConsumer",
            "OnefileCircuitOpen", "OnefileApiRateLimited", "OnefileRetryRateHigh",
            "OnefileWorkerStalled", "OnefileWorkerDown"} <= names


def test_unit_tests_expect_the_rate_limited_circuit_open_and_dead_letter_alerts_to_fire():
    tests = yaml.safe_load(ALERTS_TEST.read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
             if case.get("exp_alerts")}
    assert {"OnefileApiRateLimited", "OnefileCircuitOpen",
            "OnefileDeadLetterQueueGrowing"} <= fired


def test_every_job_the_rules_select_is_scraped_by_the_prometheus_config():
    jobs = {c["job_name"] for c in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    selected = set()
    for rule in alert_rules():
        for op, value in re.findall(r'\bjob\s*(=~|=)\s*"([^"]*)"', rule["expr"]):
            selected |= set(value.split("|")) if op == "=~" else {value}
    assert selected, "the rules select no job"
    assert selected <= jobs, selected - jobs


def test_prometheus_config_loads_the_alert_rules_next_to_it():
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert [MONITORING / f for f in config["rule_files"]] == [ALERTS]


def test_rules_name_only_queues_the_worker_declares():
    queues = {q for rule in alert_rules() for q in re.findall(r'queue="([^"]*)"', rule["expr"])}
    assert queues == {WORK_QUEUE, DEAD_QUEUE}


def test_no_alert_uses_per_message_labels():
    used = {rule["alert"]: identifiers(rule["expr"]) & PER_MESSAGE_LABELS
            for rule in alert_rules()}
    assert not any(used.values()), used


# --- Grafana dashboard ------------------------------------------------------------------------

def test_dashboard_has_no_id_and_a_stable_uid():
    board = dashboard()
    assert "id" not in board
    assert board["uid"] == "onefile-worker"


def test_dashboard_panel_ids_are_unique():
    ids = [p["id"] for p in all_panels(dashboard()["panels"])]
    assert len(ids) == len(set(ids)), ids


def test_dashboard_has_a_prometheus_datasource_variable():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_every_dashboard_query_uses_the_datasource_variable():
    board = dashboard()
    refs = [p["datasource"] for p in all_panels(board["panels"]) if p["type"] != "row"]
    refs += [t["datasource"] for t in dashboard_targets()]
    assert refs
    wrong = [r for r in refs if r != {"type": "prometheus", "uid": "${datasource}"}]
    assert not wrong, wrong


@pytest.mark.parametrize("family", metric_families(), ids=lambda f: f.name)
def test_every_metric_family_appears_in_a_dashboard_panel(family):
    used = set().union(*(identifiers(t["expr"]) for t in dashboard_targets()))
    assert exposed_names(family) & used, f"no panel queries {sorted(exposed_names(family))}"


def test_no_dashboard_panel_uses_per_message_labels():
    used = {t["expr"]: (identifiers(t["expr"]) | identifiers(t.get("legendFormat", "")))
            & PER_MESSAGE_LABELS for t in dashboard_targets()}
    assert not any(used.values()), {k: v for k, v in used.items() if v}


def test_dashboard_shows_the_work_dead_letter_and_retry_queue_depths():
    queue_exprs = [t["expr"] for t in dashboard_targets()
                   if "rabbitmq_detailed_queue_messages" in t["expr"]]
    selectors = [m for e in queue_exprs for m in re.findall(r'queue(=~?)"([^"]*)"', e)]
    exact = {value for op, value in selectors if op == "="}
    patterns = [value.replace("\\\\", "\\") for op, value in selectors if op == "=~"]
    assert {WORK_QUEUE, DEAD_QUEUE} <= exact
    assert any(re.fullmatch(p, retry_queue_name(30)) for p in patterns), patterns
    assert not any(re.fullmatch(p, DEAD_QUEUE) for p in patterns), patterns


def test_grafana_provisioning_names_a_prometheus_datasource_and_a_file_provider():
    sources = [s for f in (PROVISIONING / "datasources").glob("*.yml")
               for s in yaml.safe_load(f.read_text())["datasources"]]
    providers = [p for f in (PROVISIONING / "dashboards").glob("*.yml")
                 for p in yaml.safe_load(f.read_text())["providers"]]
    assert [s["type"] for s in sources] == ["prometheus"]
    assert [p["type"] for p in providers] == ["file"]
