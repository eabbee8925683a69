"""SIGKILL at any moment loses no enrolment and assigns nothing twice."""

from __future__ import annotations

import json
import random
import time

from tests.worker_fixture import enrolment

BATCH = 120
KILLS = 5


async def test_sigkill_during_a_batch_never_assigns_twice_and_every_enrolment_gets_its_event(
        broker, worker_factory, sandbox_factory):
    sandbox = sandbox_factory(rate_limit=100_000, faults={"latency_ms": 15})
    results = await broker.bind_results()
    rng = random.Random(20261203)
    bodies = [enrolment(2000 + i, "ST0116-L4" if i % 4 else "TL-CUSTOM") for i in range(BATCH)]
    seeded = {b["learner_id"]: {a["ID"] for a in sandbox.learner(b["learner_id"])["learning_aims"]}
              for b in bodies}
    for body in bodies:
        await broker.publish(body)
    events: dict[str, list[dict]] = {}

    async def drain() -> None:
        while (message := await results.get(no_ack=True, fail=False)) is not None:
            event = json.loads(message.body)
            events.setdefault(event["causation_id"], []).append(event)

    kills = 0
    worker = worker_factory(sandbox, onefile_rate_limit_per_minute=100_000)
    workers = [worker]
    while kills < KILLS:
        target = len(events) + rng.randint(5, 20)
        deadline = time.monotonic() + 60
        while len(events) < min(target, BATCH - 1) and time.monotonic() < deadline:
            await drain()
        worker.kill()  # SIGKILL: no cleanup, in-flight assigns cut anywhere
        kills += 1
        worker = worker_factory(sandbox, onefile_rate_limit_per_minute=100_000)
        workers.append(worker)
    deadline = time.monotonic() + 120
    while len(events) < BATCH and time.monotonic() < deadline:
        await drain()

    assert sorted(events) == sorted(b["event_id"] for b in bodies)
    for versions in events.values():
        assert all(v == versions[0] for v in versions), "a redelivery republished other ids"
        assert versions[0]["already_assigned"] is False
    stats = sandbox.stats()
    assert all(a["count"] == 1 for a in stats["assignments"])
    assert len(stats["assignments"]) == sum(1 for b in bodies if b["course_code"] == "ST0116-L4")
    assert all(s["count"] == 1 for s in stats["standard_assignments"])
    assert all(u["count"] == 1 for u in stats["unit_assignments"])
    for body in bodies:
        learner = sandbox.learner(body["learner_id"])
        event = events[body["event_id"]][0]
        now = {a["ID"] for a in learner["learning_aims"]}
        assert sorted(event["learning_aim_ids"]) == sorted(now - seeded[body["learner_id"]])
    republished = sum(len(v) - 1 for v in events.values())
    recoveries = sum(w.output().count("earlier attempt")
                     for w in workers)
    print(f"\nkill test: {BATCH} enrolments, {KILLS} SIGKILLs, {republished} events republished, "
          f"{recoveries} interrupted assignments recovered, "
          f"{stats['calls']} Onefile calls, 0 double assignments")
