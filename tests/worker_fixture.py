"""pytest plugin: a real RabbitMQ (started by ``make test``) and real worker processes.

    async def test_flow(broker, worker_factory, sandbox):
        results = await broker.bind_results()
        worker = worker_factory(sandbox)            # `onefile-worker run` as a subprocess
        await broker.publish(enrolment(1001, "ST0116-L4"))
        [event] = await broker.take(results, 1)

A test that needs RabbitMQ fails when none answers at ``AMQP_URL``; it never skips.
Every test starts from empty contract queues.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from worker.topology import DEAD_QUEUE, WORK_QUEUE, declare

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")
MAPPING = Path(__file__).parent / "data" / "mapping.yaml"
READY_TIMEOUT_S = 30.0
TEST_RETRY_DELAYS = "1,2"


def enrolment(learner_id: int, course_code: str, event_id: str | None = None,
              **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{uuid.uuid4()}",
        "event_type": "learner.enrolled",
        "occurred_at": "2026-09-01T09:00:00Z",
        "learner_id": learner_id,
        "course_code": course_code,
        **extra,
    }


async def collect_events(results: AbstractQueue, count: int, timeout_s: float = 120.0,
                         during: Callable[[], None] | None = None) -> dict[str, dict]:
    """Result events from ``results`` by causation_id until ``count`` distinct ones arrived;
    ``during`` runs between polls (to inject trouble while the batch flows)."""
    events: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(events) < count:
        message = await results.get(no_ack=True, fail=False)
        if message is None:
            assert time.monotonic() < deadline, f"only {len(events)} of {count} events"
            if during is not None:
                during()
            await asyncio.sleep(0.05)
            continue
        event = json.loads(message.body)
        events[event["causation_id"]] = event
    return events


class Broker:
    def __init__(self, connection: aio_pika.abc.AbstractConnection,
                 channel: aio_pika.abc.AbstractChannel) -> None:
        self.connection = connection
        self.channel = channel

    async def publish(self, body: dict | bytes, *, headers: dict | None = None,
                      routing_key: str = "learner.enrolled") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        exchange = await self.channel.get_exchange("enrolment")
        await exchange.publish(
            aio_pika.Message(data, content_type="application/json", headers=headers or {},
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key)

    async def bind_results(self, routing_key: str = "programme.#") -> AbstractQueue:
        """A fresh queue receiving the worker's result events (deleted with the channel)."""
        queue = await self.channel.declare_queue(f"test-results-{uuid.uuid4()}", exclusive=True)
        await queue.bind("programme", routing_key)
        return queue

    async def take(self, queue: AbstractQueue | str, count: int,
                   timeout_s: float = 60.0) -> list[AbstractIncomingMessage]:
        """Get (and ack) ``count`` messages from ``queue``, polling until the deadline."""
        if isinstance(queue, str):
            queue = await self.channel.get_queue(queue)
        taken: list[AbstractIncomingMessage] = []
        deadline = time.monotonic() + timeout_s
        while len(taken) < count:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                taken.append(message)
                continue
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(taken)} of {count} messages from {queue.name}")
            await asyncio.sleep(0.05)
        return taken

    async def depth(self, name: str) -> int:
        queue = await self.channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0

    async def purge_all(self) -> None:
        for name in (WORK_QUEUE, DEAD_QUEUE, "onefile-worker.retry.1s", "onefile-worker.retry.2s"):
            queue = await self.channel.get_queue(name)
            await queue.purge()


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    """A connection to the test broker, with the topology declared and its queues empty."""
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=10)
    except Exception as exc:  # fail, never skip: `make test` starts RabbitMQ
        pytest.fail(f"RabbitMQ is not reachable at {AMQP_URL} ({exc}); run `make test`")
    channel = await connection.channel(publisher_confirms=True)
    await declare(connection, channel, [int(d) for d in TEST_RETRY_DELAYS.split(",")])
    helper = Broker(connection, channel)
    await helper.purge_all()
    yield helper
    await helper.purge_all()
    await connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    """A running ``onefile-worker run`` subprocess."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.env = env
        self.metrics_port = int(env["METRICS_PORT"])
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", "run"], env=env, stdout=log,
            stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}): {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready after {timeout_s}s: {self.output()}")
            time.sleep(0.05)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    total += sample.value
        return total

    def wait_metric(self, name: str, expected: float, timeout_s: float = 10.0,
                    **labels: str) -> float:
        """Poll /metrics until the sample equals ``expected`` (results are published before
        the ack that counts them, so a scrape right after an event may be early)."""
        deadline = time.monotonic() + timeout_s
        while (value := self.metric(name, **labels)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}{labels} is {value}, expected {expected}")
            time.sleep(0.05)
        return value

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout_s: float = 25.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"worker ignored SIGTERM for {timeout_s}s") from None
        return self.process.returncode


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers against a sandbox: ``worker_factory(sandbox, ready=True, **env)``.

    Each test gets its own ledger file (shared by the workers of that test) unless
    ``ledger_url`` names another ledger (e.g. a PostgreSQL one)."""
    started: list[WorkerProcess] = []
    ledger = tmp_path / "ledger.db"

    def factory(sandbox: Any, *, ready: bool = True, ledger_url: str | None = None,
                **env: str) -> WorkerProcess:
        environment = {
            **os.environ,
            "AMQP_URL": AMQP_URL,
            "ONEFILE_BASE_URL": sandbox.base_url,
            "ONEFILE_CUSTOMER_TOKEN": sandbox.token,
            "MAPPING_FILE": str(MAPPING),
            "LEDGER_URL": ledger_url or f"sqlite:///{ledger}",
            "METRICS_PORT": str(_free_port()),
            "RETRY_DELAYS": TEST_RETRY_DELAYS,
            "LOG_FORMAT": "json",
            "ONEFILE_TIMEOUT_S": "5",
            **{k.upper(): str(v) for k, v in env.items()},
        }
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed at teardown
        process = WorkerProcess(environment, log)
        started.append(process)
        if ready:
            process.wait_ready()
        return process

    yield factory
    for process in started:
        process.kill()
        process.log.close()
