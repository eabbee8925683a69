"""The `onefile-worker` command: exit codes and one-line errors, from outside the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MAPPING = Path(__file__).parent.parent / "data" / "mapping.yaml"


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ONEFILE_", "MAPPING_", "LEDGER_", "RETRY_"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "worker", *args], capture_output=True,
                          text=True, env=environment, timeout=60, cwd=cwd)


def test_run_without_a_token_exits_2_with_one_line_naming_it(tmp_path):
    done = run("run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "onefile-worker: ONEFILE_CUSTOMER_TOKEN is required but not set"]


def test_run_with_a_bad_variable_exits_2_naming_it(tmp_path):
    done = run("run", cwd=tmp_path, ONEFILE_CUSTOMER_TOKEN="x", PREFETCH="lots")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "PREFETCH" in done.stderr


def test_run_with_a_bad_mapping_exits_2_naming_the_course(tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("courses:\n  ST0116-L4:\n    framework_template_id: -4\n")
    done = run("run", cwd=tmp_path, ONEFILE_CUSTOMER_TOKEN="x", MAPPING_FILE=str(mapping))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "course 'ST0116-L4'" in line and "framework_template_id" in line
    assert "Traceback" not in done.stderr


def test_mapping_check_lists_every_unknown_id_and_exits_1(tmp_path, sandbox):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "courses:\n  A: {framework_template_id: 101}\n  B: {framework_template_id: 999}\n"
        "  C:\n    standards:\n      - {id: 507, units: [9010, 9999]}\n      - {id: 4444}\n")
    done = run("mapping", "check", ONEFILE_CUSTOMER_TOKEN=sandbox.token,
               ONEFILE_BASE_URL=sandbox.base_url, MAPPING_FILE=str(mapping))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("3 problem(s)")
    assert "- course 'B': framework template 999 not found in Onefile" in lines
    assert "- course 'C': unit 9999 not found under standard 507 in Onefile" in lines
    assert "- course 'C': standard 4444 not found in Onefile" in lines


def test_mapping_check_passes_a_mapping_whose_ids_all_exist_with_exit_0(sandbox):
    demo_mapping = MAPPING.parent.parent.parent / "deploy" / "demo" / "mapping.yaml"
    done = run("mapping", "check", ONEFILE_CUSTOMER_TOKEN=sandbox.token,
               ONEFILE_BASE_URL=sandbox.base_url, MAPPING_FILE=str(demo_mapping))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all IDs known to Onefile" in done.stdout


def test_mapping_check_with_a_rejected_token_exits_2(sandbox):
    done = run("mapping", "check", ONEFILE_CUSTOMER_TOKEN="wrong",
               ONEFILE_BASE_URL=sandbox.base_url, MAPPING_FILE=str(MAPPING))
    assert done.returncode == 2
    assert "wrong" not in done.stderr + done.stdout
    assert "rejected the customer token" in done.stderr
