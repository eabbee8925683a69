"""The ``onefile-sandbox`` command: start-up line, bad usage, access log, quick shutdown."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

COMMAND = [sys.executable, "-m", "worker.sandbox.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=30)


def test_prints_one_line_when_listening(sandbox):
    assert sandbox.output().splitlines() == [
        f"onefile-sandbox listening on {sandbox.base_url} (rate limit 300 per 60s)"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--rate-limit", "many"],
        ["--no-such-flag"],
        ["--rate-limit", "0"],
        ["--window-s", "0"],
        ["--error-rate", "1.5"],
        ["--error-rate", "0.6", "--timeout-rate", "0.6"],
        ["--port", "70000"],
        ["--seed-file", "/nonexistent/seed.yaml"],
    ],
)
def test_bad_usage_is_one_line_on_stderr_and_exit_2(args):
    result = run("--port", "0", *args)

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("onefile-sandbox: error: ")


def test_a_busy_port_is_one_line_and_exit_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("--port", str(busy.getsockname()[1]))

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot listen" in result.stderr


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "onefile-sandbox"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0
    assert "--rate-limit" in result.stdout


def test_access_log_is_off_by_default(api):
    api.post("/Unit/Search", {})

    assert "/api/v2.1" not in api.sandbox.output().split("\n", 1)[1]


def test_access_log_flag_logs_each_request(sandbox_factory, api_for):
    api = api_for(sandbox_factory(extra_args=["--access-log"]))
    api.authenticate()

    deadline = time.monotonic() + 10
    while "POST /api/v2.1/Authentication" not in api.sandbox.output():
        assert time.monotonic() < deadline, api.sandbox.output()
        time.sleep(0.02)


def test_sigterm_stops_it_quickly_even_with_a_request_hanging(sandbox_factory, api_for):
    api = api_for(sandbox_factory(faults={"timeout_rate": 1.0, "hang_s": 60}))
    api.authenticate()
    with ThreadPoolExecutor(max_workers=1) as pool:
        hanging = pool.submit(api.post, "/Unit/Search", {})
        deadline = time.monotonic() + 10
        while api.sandbox.stats()["faults_injected"]["timeout"] == 0:
            assert time.monotonic() < deadline, "the hanging call never arrived"
            time.sleep(0.02)

        started = time.monotonic()
        api.sandbox.process.terminate()
        api.sandbox.process.wait(timeout=10)
        stopped_after_s = time.monotonic() - started

        with pytest.raises(httpx.TransportError):
            hanging.result(timeout=10)
    assert stopped_after_s < 3
