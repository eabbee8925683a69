"""Hot standby: two replicas share a PostgreSQL ledger and the single-active-consumer queue.

The active one is SIGKILLed mid-batch; the standby, already registered and ready, takes
over, finds the interrupted assignments in the shared ledger, and nothing is assigned
twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from tests.worker.ledger.postgres_db import fresh_schema
from tests.worker_fixture import enrolment

BATCH = 150
#: Results seen before the active replica is killed (well inside the batch).
KILL_AFTER = 40
#: Sandbox latency per call and a small prefetch, so the batch takes several seconds.
LATENCY_MS = 25
PREFETCH = 2
TAKEOVER_TIMEOUT_S = 60.0
POLL_S = 0.01


@pytest.fixture
async def postgres_ledger_url() -> AsyncIterator[str]:
    async with fresh_schema("failover_test") as url:
        yield url


def processed(worker) -> float:
    return worker.metric("onefile_worker_messages_total")


async def test_the_standby_takes_over_when_the_active_replica_is_killed_assigning_each_once(
        broker, worker_factory, sandbox_factory, postgres_ledger_url):
    sandbox = sandbox_factory(rate_limit=100_000, faults={"latency_ms": LATENCY_MS})
    results = await broker.bind_results()
    settings = {"ledger_url": postgres_ledger_url, "onefile_rate_limit_per_minute": 100_000,
                "prefetch": PREFETCH}
    replicas = [worker_factory(sandbox, **settings), worker_factory(sandbox, **settings)]
    bodies = [enrolment(2200 + i, "ST0116-L4" if i % 4 else "TL-CUSTOM") for i in range(BATCH)]
    seeded = {b["learner_id"]: {a["ID"] for a in sandbox.learner(b["learner_id"])["learning_aims"]}
              for b in bodies}
    for body in bodies:
        await broker.publish(body)
    ours = {b["event_id"] for b in bodies}
    events: dict[str, list[dict]] = {}

    async def collect(count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(events) < count:
            message = await results.get(no_ack=True, fail=False)
            if message is None:
                assert time.monotonic() < deadline, f"{len(events)} of {count} results arrived"
                await asyncio.sleep(POLL_S)
                continue
            event = json.loads(message.body)
            if event["causation_id"] not in ours:  # another test's, on the shared broker
                continue
            events.setdefault(event["causation_id"], []).append(event)

    await collect(KILL_AFTER, 60)
    counts = [processed(w) for w in replicas]
    assert min(counts) == 0 < max(counts), f"exactly one replica should consume: {counts}"
    active, standby = replicas if counts[0] else replicas[::-1]
    assert active.ready() and standby.ready(), "a standby behind the active consumer is ready"
    seen_at_kill = len(events)

    killed_at, killed_wall = time.monotonic(), time.time()
    active.kill()
    first_delivery_wall = 0.0
    while not processed(standby):
        assert time.monotonic() - killed_at < TAKEOVER_TIMEOUT_S, (
            f"the standby did not take over: {standby.output()[-2000:]}")
        first_delivery_wall = first_delivery_wall or standby.metric(
            "onefile_worker_last_message_timestamp_seconds")
        await asyncio.sleep(POLL_S)
    takeover_s = time.monotonic() - killed_at
    first_delivery_wall = first_delivery_wall or standby.metric(
        "onefile_worker_last_message_timestamp_seconds")
    await collect(BATCH, 120)

    assert set(events) == ours
    for versions in events.values():
        assert all(v == versions[0] for v in versions), "a redelivery republished other ids"
        assert versions[0].get("already_assigned") is False, versions
    stats = sandbox.stats()
    assert all(a["count"] == 1 for a in stats["assignments"])
    assert len(stats["assignments"]) == sum(b["course_code"] == "ST0116-L4" for b in bodies)
    assert all(s["count"] == 1 for s in stats["standard_assignments"])
    assert all(u["count"] == 1 for u in stats["unit_assignments"])
    for body in bodies:
        now = {a["ID"] for a in sandbox.learner(body["learner_id"])["learning_aims"]}
        event = events[body["event_id"]][0]
        assert sorted(event["learning_aim_ids"]) == sorted(now - seeded[body["learner_id"]])
    recovered = standby.output().count("earlier attempt")
    print(f"\nfailover: {BATCH} enrolments, active replica SIGKILLed after {seen_at_kill} "
          f"results; standby's first delivery {first_delivery_wall - killed_wall:.2f} s and "
          f"first finished message {takeover_s:.2f} s after the kill; {recovered} interrupted "
          f"assignments recovered from the shared ledger; 0 double assignments")
