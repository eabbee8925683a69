"""``make demo``: the sandbox, the worker and sample enrolments, shown as they flow.

Starts ``onefile-sandbox`` and ``onefile-worker run`` (RabbitMQ is started by the
Makefile), publishes a handful of enrolments (a duplicate, a second event for a course
already assigned, a standards plan, a malformed message, an unmapped course), then prints
each result event and dead letter. Ctrl-C stops everything it started. ``--once`` exits
after the samples have all come through (used by the tests). With a Docker engine it runs
docker-compose.yml's whole stack instead (``--local`` keeps everything here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import httpx
from rich.console import Console

from worker.dlq import list_dead_letters, print_dead_letters
from worker.topology import DEAD_QUEUE, declare

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "deploy" / "demo" / "mapping.yaml"
RUN_DIR = ROOT / ".run"
console = Console()


def _port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _samples() -> list[tuple[str, bytes]]:
    def event(learner: int, course: str, event_id: str | None = None) -> dict:
        return {"event_id": event_id or f"demo-{uuid.uuid4()}", "event_type": "learner.enrolled",
                "occurred_at": "2026-09-01T09:00:00Z", "learner_id": learner,
                "course_code": course, "start_date": "2026-09-01"}

    first = event(1001, "ST0116-L4")
    return [
        ("template for learner 1001", json.dumps(first).encode()),
        ("the same event again (a duplicate delivery)", json.dumps(first).encode()),
        ("a new event, same learner and course", json.dumps(event(1001, "ST0116-L4")).encode()),
        ("template for learner 1003 (has older aims)",
         json.dumps(event(1003, "ST0118-L4")).encode()),
        ("standards plan for learner 1004", json.dumps(event(1004, "TL-CUSTOM")).encode()),
        ("a malformed message", b'{"event_id": "demo-bad", "learner_id": "not a number"}'),
        ("an unmapped course", json.dumps(event(1005, "NO-SUCH-COURSE")).encode()),
    ]


def _wait_http(url: str, process: subprocess.Popen, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"demo: {what} exited with {process.returncode}; see {RUN_DIR}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"demo: {what} did not become ready in {timeout_s}s; see {RUN_DIR}")


def _show(message: aio_pika.abc.AbstractIncomingMessage, seen: int, total: int) -> None:
    event = json.loads(message.body)
    who = f"learner {event.get('learner_id')} {event.get('course_code')}"
    if event["event_type"] == "programme.assigned":
        again = "  [yellow]already assigned: nothing assigned again[/]" \
            if event["already_assigned"] else ""
        what = (f"[green]assigned[/] {who}: learning aims {event['learning_aim_ids']}, "
                f"unit summaries {event['unit_summary_ids']}{again}")
    else:
        what = f"[red]dead-lettered[/] ({event['reason']}) {who}: {event['detail']}"
    console.print(f"{seen}/{total} {message.routing_key}  {what}  "
                  f"[dim]event {event['event_id'][:8]}.. cause {event.get('causation_id')}[/]")


async def _flow(amqp_url: str, once: bool) -> None:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await declare(connection, channel, [])
    results = await channel.declare_queue(exclusive=True)
    await results.bind("programme", "programme.#")
    exchange = await channel.get_exchange("enrolment")
    samples = _samples()
    for label, body in samples:
        console.print(f"[bold]publish[/] learner.enrolled: {label}")
        await exchange.publish(aio_pika.Message(
            body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="learner.enrolled")
    console.print(f"\nWaiting for {len(samples)} result events (Ctrl-C to stop)...\n")
    seen = 0
    async with results.iterator() as stream:
        async for message in stream:
            await message.ack()
            seen += 1
            _show(message, seen, len(samples))
            if seen >= len(samples):
                break
    await connection.close()
    letters = await list_dead_letters(amqp_url)
    console.print(f"\n[bold]{len(letters)}[/] message(s) in {DEAD_QUEUE} "
                  "(`.venv/bin/onefile-worker dlq list` shows them again):")
    print_dead_letters(letters, as_json=False)
    if not once:
        console.print("The worker keeps running; publish more enrolments or press Ctrl-C.")
        await asyncio.Event().wait()


def _docker_compose_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _compose_demo(amqp_url: str, once: bool) -> None:
    """With a Docker engine: the whole stack of docker-compose.yml (worker, sandbox, RabbitMQ,
    Prometheus on :9090, Grafana on :3000), the samples published from here."""
    compose = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml")]
    console.print("Docker engine found: starting docker-compose.yml's stack...")
    subprocess.run([*compose, "up", "-d", "--build", "--wait"], check=True)
    try:
        console.print("[green]worker[/] http://127.0.0.1:9108/metrics   [green]grafana[/] "
                      "http://127.0.0.1:3000   [green]prometheus[/] http://127.0.0.1:9090\n")
        asyncio.run(_flow(amqp_url, once))
    except KeyboardInterrupt:
        console.print("\nStopping...")
    finally:
        subprocess.run([*compose, "stop"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="exit after the samples come through")
    parser.add_argument("--local", action="store_true",
                        help="run the worker and sandbox here even when a Docker engine answers")
    args = parser.parse_args()
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")
    if not args.local and _docker_compose_answers():
        _compose_demo(amqp_url, args.once)
        return
    RUN_DIR.mkdir(exist_ok=True)
    ledger = RUN_DIR / "demo-ledger.db"
    for leftover in RUN_DIR.glob("demo-ledger.db*"):
        leftover.unlink()
    sandbox_port, metrics_port = _port(8080), _port(9108)
    env = {**os.environ, "ONEFILE_CUSTOMER_TOKEN": os.environ.get("ONEFILE_CUSTOMER_TOKEN",
                                                                  "sandbox")}
    bin_dir = Path(sys.executable).parent
    processes: list[subprocess.Popen] = []
    try:
        sandbox = subprocess.Popen(
            [str(bin_dir / "onefile-sandbox"), "--port", str(sandbox_port)], env=env,
            stdout=open(RUN_DIR / "sandbox.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        processes.append(sandbox)
        _wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/stats", sandbox, "onefile-sandbox")
        worker_env = {**env, "AMQP_URL": amqp_url, "MAPPING_FILE": str(MAPPING),
                      "ONEFILE_BASE_URL": f"http://127.0.0.1:{sandbox_port}/api/v2.1",
                      "LEDGER_URL": f"sqlite:///{ledger}", "METRICS_PORT": str(metrics_port),
                      "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console")}
        worker = subprocess.Popen(
            [str(bin_dir / "onefile-worker"), "run"], env=worker_env,
            stdout=open(RUN_DIR / "worker.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        processes.append(worker)
        _wait_http(f"http://127.0.0.1:{metrics_port}/readyz", worker, "onefile-worker")
        console.print(f"[green]sandbox[/] http://127.0.0.1:{sandbox_port}/api/v2.1   "
                      f"[green]worker[/] metrics http://127.0.0.1:{metrics_port}/metrics   "
                      f"logs {RUN_DIR}/worker.log\n")
        asyncio.run(_flow(amqp_url, args.once))
    except KeyboardInterrupt:
        console.print("\nStopping...")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(25)
            if process.poll() is None:
                process.kill()


if __name__ == "__main__":
    main()
