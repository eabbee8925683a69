"""The worker survives the broker dropping it and stops cleanly when told to."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import aio_pika
import httpx

from tests.worker_fixture import AMQP_URL, collect_events, enrolment


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=120, capture_output=True)


def close_worker_connections(pid: int) -> int:
    """Have the broker close the worker's connections (as a broker restart would)."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True, text=True, check=True, timeout=60).stdout
    pids = [line.split("\t", 1)[0] for line in listing.splitlines()
            if f"pid {pid}" in line and "onefile-worker" in line]
    for connection in pids:
        rabbitmqctl("close_connection", connection, "test: broker-side close")
    return len(pids)


async def test_consumption_resumes_by_itself_after_the_broker_closes_the_connection(
        broker, worker_factory, sandbox_factory):
    sandbox = sandbox_factory(rate_limit=100_000, faults={"latency_ms": 20})
    results = await broker.bind_results()
    worker = worker_factory(sandbox, onefile_rate_limit_per_minute=100_000, prefetch=4)
    bodies = [enrolment(2500 + i, "ST0116-L4") for i in range(60)]
    for body in bodies:
        await broker.publish(body)
    events = await collect_events(results, 10)
    assert await asyncio.to_thread(close_worker_connections, worker.process.pid) == 1
    # aio-pika reconnects within milliseconds, too fast to catch /readyz at 503 (the
    # stopped-broker test below does); the worker's log shows both transitions.
    deadline = time.monotonic() + 30
    while not any(line["event"] == "reconnected to RabbitMQ; consumer restored"
                  for line in worker.log_lines()):
        assert time.monotonic() < deadline, "the worker never reconnected"
        await asyncio.sleep(0.05)
    assert any(line["event"] == "connection to RabbitMQ lost; reconnecting"
               for line in worker.log_lines())
    events.update(await collect_events(results, 60 - len(events)))
    assert sorted(events) == sorted(b["event_id"] for b in bodies)
    assert all(a["count"] == 1 for a in sandbox.stats()["assignments"])
    assert worker.ready() and worker.process.poll() is None


async def test_sigterm_finishes_in_flight_work_and_exits_0_within_20_seconds(
        broker, worker_factory, sandbox_factory):
    sandbox = sandbox_factory(rate_limit=100_000, faults={"latency_ms": 50})
    results = await broker.bind_results()
    worker = worker_factory(sandbox, onefile_rate_limit_per_minute=100_000)
    bodies = [enrolment(2600 + i, "ST0116-L4") for i in range(80)]
    for body in bodies:
        await broker.publish(body)
    events = await collect_events(results, 5)
    started = time.monotonic()
    assert worker.terminate(timeout_s=20) == 0
    stop_s = time.monotonic() - started
    lines = worker.log_lines()
    assert any(line["event"] == "stopped" for line in lines)
    successor = worker_factory(sandbox, onefile_rate_limit_per_minute=100_000)
    events.update(await collect_events(results, 80 - len(events)))
    assert sorted(events) == sorted(b["event_id"] for b in bodies)
    assert all(a["count"] == 1 for a in sandbox.stats()["assignments"])
    assert successor.ready()
    print(f"\nSIGTERM to exit: {stop_s:.2f}s")


async def test_a_rejected_customer_token_pauses_consumption_without_dead_lettering(
        broker, worker_factory, sandbox):
    worker = worker_factory(sandbox, ready=False, onefile_customer_token="not-the-token",
                            circuit_probe_max_s=1)
    worker.wait_ready()
    body = enrolment(1401, "ST0116-L4")
    await broker.publish(body)
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as http:
        while (ready := await http.get(f"{worker.url}/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "the worker never reported the bad token"
            await asyncio.sleep(0.05)
    assert "configuration problem" in ready.text and "ONEFILE_CUSTOMER_TOKEN" in ready.text
    assert await broker.depth("onefile-worker.dead") == 0
    errors = [line for line in worker.log_lines() if line["level"] == "error"]
    assert len(errors) == 1 and "misconfigured" in errors[0]["event"]
    assert "not-the-token" not in worker.output()
    worker.kill()
    deadline = time.monotonic() + 10
    while await broker.depth("onefile-worker.enrolments") != 1:  # handed back, not lost
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_readyz_is_503_while_the_broker_is_stopped_and_200_when_it_returns(
        worker_factory, sandbox):
    worker = worker_factory(sandbox)
    await asyncio.to_thread(rabbitmqctl, "stop_app")
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2) as http:
            while (ready := await http.get(f"{worker.url}/readyz")).status_code != 503:
                assert time.monotonic() < deadline, "still ready with the broker stopped"
                await asyncio.sleep(0.05)
        assert "RabbitMQ" in ready.text
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
    await asyncio.to_thread(worker.wait_ready, 60)
    assert (await asyncio.to_thread(worker.metric, "onefile_worker_consumers_active")) == 1
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel(publisher_confirms=True)
    results = await channel.declare_queue(exclusive=True)
    await results.bind("programme", "programme.#")
    body = enrolment(1701, "ST0116-L4")
    exchange = await channel.get_exchange("enrolment")
    await exchange.publish(aio_pika.Message(json.dumps(body).encode()),
                           routing_key="learner.enrolled")
    event = json.loads((await collect_one(results)).body)
    assert event["causation_id"] == body["event_id"]
    await connection.close()


async def collect_one(queue, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while (message := await queue.get(no_ack=True, fail=False)) is None:
        assert time.monotonic() < deadline, "no result event after the broker came back"
        await asyncio.sleep(0.05)
    return message
