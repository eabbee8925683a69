"""End-to-end throughput at Onefile's real limit: worker + sandbox + RabbitMQ.

    .venv/bin/python -m bench.pipeline [--enrolments 150] [--rate-limit 300] [--plan-every 5]

Starts ``onefile-sandbox`` (limit as given, counted at arrival) and ``onefile-worker run``
with the same ``ONEFILE_RATE_LIMIT_PER_MINUTE``, publishes enrolments for distinct
learners (every Nth a standards plan), and prints enrolments a minute, Onefile calls per
enrolment, the most calls the sandbox saw in any 60 s window, and 429s (expected: 0).
Needs RabbitMQ at AMQP_URL (``make rabbitmq``). Uses the contract queue names: run it on a
broker no worker is using.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import httpx

from worker.demo import _port, _wait_http
from worker.topology import declare

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "tests" / "data" / "mapping.yaml"


async def _run(amqp_url: str, count: int, plan_every: int) -> tuple[float, dict]:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    topology = await declare(connection, channel, [])
    await topology.work_queue.purge()
    results = await channel.declare_queue(exclusive=True)
    await results.bind("programme", "programme.#")
    started = time.monotonic()
    for i in range(count):
        course = "TL-CUSTOM" if plan_every and i % plan_every == 0 else "ST0116-L4"
        body = {"event_id": f"bench-{uuid.uuid4()}", "event_type": "learner.enrolled",
                "occurred_at": "2026-09-01T09:00:00Z", "learner_id": 1001 + i,
                "course_code": course}
        await topology.enrolment.publish(
            aio_pika.Message(json.dumps(body).encode(), content_type="application/json"),
            routing_key="learner.enrolled")
    outcomes: dict[str, int] = {}
    async with results.iterator() as stream:
        async for message in stream:
            await message.ack()
            kind = json.loads(message.body)["event_type"]
            outcomes[kind] = outcomes.get(kind, 0) + 1
            if sum(outcomes.values()) >= count:
                break
    elapsed = time.monotonic() - started
    await connection.close()
    return elapsed, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, default=150)
    parser.add_argument("--rate-limit", type=int, default=300)
    parser.add_argument("--plan-every", type=int, default=5)
    args = parser.parse_args()
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")
    bin_dir = Path(sys.executable).parent
    sandbox_port, metrics_port = _port(18080), _port(19108)
    env = {**os.environ, "ONEFILE_CUSTOMER_TOKEN": "sandbox"}
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = subprocess.Popen(
            [str(bin_dir / "onefile-sandbox"), "--port", str(sandbox_port), "--rate-limit",
             str(args.rate_limit)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        worker = None
        try:
            _wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/stats", sandbox, "sandbox")
            worker = subprocess.Popen(
                [str(bin_dir / "onefile-worker"), "run"], stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT, env={
                    **env, "AMQP_URL": amqp_url, "MAPPING_FILE": str(MAPPING),
                    "ONEFILE_BASE_URL": f"http://127.0.0.1:{sandbox_port}/api/v2.1",
                    "ONEFILE_RATE_LIMIT_PER_MINUTE": str(args.rate_limit),
                    "LEDGER_URL": f"sqlite:///{tmp}/ledger.db", "METRICS_PORT": str(metrics_port)})
            _wait_http(f"http://127.0.0.1:{metrics_port}/readyz", worker, "worker")
            elapsed, outcomes = asyncio.run(_run(amqp_url, args.enrolments, args.plan_every))
            stats = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/stats").json()
        finally:
            for process in (worker, sandbox):
                if process is not None:
                    process.terminate()
                    process.wait(30)
    calls = stats["calls"] - stats["calls_by_endpoint"].get("Authentication", 0)
    print(f"enrolments                      {args.enrolments} "
          f"(every {args.plan_every}th a 2-standard, 3-unit plan)")
    print(f"outcomes                        {outcomes}")
    print(f"elapsed                         {elapsed:.1f} s")
    print(f"enrolments per minute           {args.enrolments / elapsed * 60:.1f}")
    print(f"Onefile calls (excl. auth)      {calls}  = {calls / args.enrolments:.2f} a enrolment")
    print(f"calls by endpoint               {stats['calls_by_endpoint']}")
    print(f"max calls in any 60 s window    {stats['max_calls_in_window']} "
          f"(limit {args.rate_limit}, ratio {stats['max_calls_in_window'] / args.rate_limit:.2f})")
    print(f"429s                            {stats['rate_limited']}")
    print(f"double assignments              "
          f"{sum(1 for a in stats['assignments'] if a['count'] > 1)}")


if __name__ == "__main__":
    main()
