"""pytest plugin: the Onefile API simulator, started as a real subprocess per test.

    def test_something(sandbox):                      # defaults
        httpx.post(f"{sandbox.base_url}/Authentication", headers={"X-CustomerToken": sandbox.token})

    def test_limits(sandbox_factory):
        sandbox = sandbox_factory(rate_limit=5, retry_after=True, faults={"error_rate": 0.2})

Each sandbox listens on a free port and is ready (``/_sandbox/stats`` answers) when the
factory returns; every sandbox a test started is stopped at teardown.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import httpx
import pytest

#: Seconds a sandbox may take to answer its first request.
STARTUP_TIMEOUT_S = 20.0
#: Seconds a sandbox may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 5.0
#: Fresh ports tried when another process grabs the free port first.
PORT_ATTEMPTS = 3

_FAULT_FLAGS = {
    "error_rate": "--error-rate",
    "timeout_rate": "--timeout-rate",
    "apply_then_fail_rate": "--apply-then-fail-rate",
    "latency_ms": "--latency-ms",
    "hang_s": "--hang-s",
    "random_seed": "--random-seed",
}


class SandboxHandle:
    """A running ``onefile-sandbox`` process and sync helpers for its admin endpoints."""

    def __init__(self, port: int, token: str, process: subprocess.Popen, log: IO[bytes]):
        root = f"http://127.0.0.1:{port}"
        self.base_url = f"{root}/api/v2.1"
        self.admin_url = f"{root}/_sandbox"
        self.token = token
        self.process = process
        self._log = log
        self._client = httpx.Client(timeout=10.0)

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "stats").json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._admin("POST", "faults", json=faults).json()

    def reset(self) -> None:
        self._admin("POST", "reset")

    def expire_tokens(self) -> None:
        self._admin("POST", "expire-tokens")

    def learner(self, learner_id: int) -> dict[str, Any]:
        return self._admin("GET", f"learners/{learner_id}").json()

    def authenticate(self) -> str:
        """Get a session token (one API call: it counts against the rate limit)."""
        response = self._client.post(
            f"{self.base_url}/Authentication", headers={"X-CustomerToken": self.token}
        )
        response.raise_for_status()
        return response.text

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._client.close()

    def _admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._client.request(method, f"{self.admin_url}/{path}", **kwargs)
        response.raise_for_status()
        return response

    def _wait_ready(self) -> bool:
        """Poll until the admin API answers (True) or the process exits (False)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self._client.get(f"{self.admin_url}/stats", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"onefile-sandbox not ready after {STARTUP_TIMEOUT_S}s: {self.output()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sandbox_args(
    *,
    rate_limit: int = 300,
    window_s: float = 60,
    token_ttl_s: float = 86400,
    retry_after: bool = False,
    faults: dict[str, Any] | None = None,
    extra_args: list[str] | None = None,
) -> list[str]:
    """The command-line flags for these settings."""
    args = ["--rate-limit", str(rate_limit), "--window-s", str(window_s)]
    args += ["--token-ttl-s", str(token_ttl_s)]
    if retry_after:
        args.append("--retry-after")
    for name, value in (faults or {}).items():
        if name == "down":
            args += ["--down"] if value else []
        elif name in _FAULT_FLAGS:
            args += [_FAULT_FLAGS[name], str(value)]
        else:
            raise TypeError(f"unknown fault setting {name!r}")
    return args + list(extra_args or [])


def start_sandbox(token: str = "sandbox", **settings: Any) -> SandboxHandle:
    """Start a sandbox subprocess and wait until it answers; see :func:`sandbox_args`."""
    flags = sandbox_args(**settings)
    env = {**os.environ, "ONEFILE_CUSTOMER_TOKEN": token}
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        command = [sys.executable, "-m", "worker.sandbox.cli", "--host", "127.0.0.1"]
        command += ["--port", str(port), *flags]
        log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed at teardown
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        handle = SandboxHandle(port, token, process, log)
        if handle._wait_ready():
            return handle
        output = handle.output()
        handle.stop()
        log.close()
        if "cannot listen" not in output:
            raise RuntimeError(f"onefile-sandbox exited at start-up: {output.strip()}")
    raise RuntimeError(f"onefile-sandbox found no free port in {PORT_ATTEMPTS} attempts")


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with ``rate_limit``, ``window_s``, ``token_ttl_s``, ``retry_after``,
    ``faults`` (dict of fault settings) and ``extra_args``; all are stopped at teardown."""
    started: list[SandboxHandle] = []

    def factory(**settings: Any) -> SandboxHandle:
        handle = start_sandbox(**settings)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()
        handle._log.close()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxHandle]) -> SandboxHandle:
    """A sandbox with default settings (300 calls/60 s, token ``sandbox``, no faults)."""
    return sandbox_factory()
