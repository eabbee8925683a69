"""The pipeline end to end: real RabbitMQ, the sandbox over HTTP, `onefile-worker run`."""

from __future__ import annotations

import json

from tests.worker_fixture import enrolment


def assignment_counts(sandbox) -> dict[tuple[int, int], int]:
    return {(a["learner_id"], a["template_id"]): a["count"]
            for a in sandbox.stats()["assignments"]}


async def test_an_enrolment_is_assigned_once_and_its_event_names_the_new_aims(
        broker, worker_factory, sandbox):
    results = await broker.bind_results()
    worker_factory(sandbox)
    body = enrolment(1001, "ST0116-L4")
    await broker.publish(body)
    [message] = await broker.take(results, 1)
    event = json.loads(message.body)
    learner = sandbox.learner(1001)
    aims = {a["ID"] for a in learner["learning_aims"]}
    assert message.routing_key == "programme.assigned"
    assert event["causation_id"] == body["event_id"]
    assert event["already_assigned"] is False
    assert event["framework_template_id"] == 101
    assert set(event["learning_aim_ids"]) == aims and len(aims) == 2
    assert len(event["unit_summary_ids"]) == 4
    assert assignment_counts(sandbox) == {(1001, 101): 1}


async def test_a_batch_of_duplicates_repeats_invalid_and_unmapped_messages_assigns_each_once(
        broker, worker_factory, sandbox):
    results = await broker.bind_results()
    worker_factory(sandbox)
    first = enrolment(1004, "ST0116-L4")
    repeat = enrolment(1004, "ST0116-L4")  # a second event for a course already assigned
    plan = enrolment(1005, "TL-CUSTOM")
    unmapped = enrolment(1006, "NO-SUCH-COURSE")
    invalid = b'{"event_id": "bad-1", "learner_id": "x"}'
    not_json = b"\xff\xfenot json"
    await broker.publish(first)
    await broker.publish(first)  # a duplicate delivery of the same event
    await broker.publish(plan)
    await broker.publish(invalid)
    await broker.publish(not_json)
    await broker.publish(unmapped)
    events = [json.loads(m.body) for m in await broker.take(results, 6)]
    await broker.publish(repeat)
    [repeat_event] = [json.loads(m.body) for m in await broker.take(results, 1)]

    assigned = [e for e in events if e["event_type"] == "programme.assigned"]
    failed = [e for e in events if e["event_type"] == "programme.assignment_failed"]
    by_cause = {e["causation_id"]: e for e in assigned}
    first_events = [e for e in assigned if e["causation_id"] == first["event_id"]]
    assert len(first_events) == 2 and first_events[0] == first_events[1]
    assert first_events[0]["event_id"] == first_events[1]["event_id"]
    assert repeat_event["already_assigned"] is True
    assert repeat_event["learning_aim_ids"] == first_events[0]["learning_aim_ids"]
    assert repeat_event["event_id"] != first_events[0]["event_id"]
    custom = by_cause[plan["event_id"]]
    assert custom["framework_template_id"] is None
    assert len(custom["learning_aim_ids"]) == 2 and len(custom["unit_summary_ids"]) == 3
    assert sorted(e["reason"] for e in failed) == [
        "invalid_message", "invalid_message", "unmapped_course"]

    stats = sandbox.stats()
    assert assignment_counts(sandbox) == {(1004, 101): 1}
    assert sorted((s["learner_id"], s["standard_id"], s["count"])
                  for s in stats["standard_assignments"]) == [(1005, 507, 1), (1005, 509, 1)]
    assert len(stats["unit_assignments"]) == 3

    dead = await broker.take("onefile-worker.dead", 3)
    bodies = {m.body: m.headers for m in dead}
    assert bodies[invalid]["x-failure-reason"] == "invalid_message"
    assert "learner_id" in bodies[invalid]["x-failure-detail"]
    assert bodies[not_json]["x-failure-reason"] == "invalid_message"
    unmapped_body = next(b for b in bodies if b not in (invalid, not_json))
    assert json.loads(unmapped_body) == unmapped
    assert bodies[unmapped_body]["x-failure-reason"] == "unmapped_course"
    assert bodies[unmapped_body]["x-attempts"] == 1


async def test_an_assign_answered_500_after_taking_effect_is_not_repeated(
        broker, worker_factory, sandbox):
    results = await broker.bind_results()
    sandbox.set_faults(apply_then_fail_rate=1.0)
    worker_factory(sandbox)
    body = enrolment(1007, "ST0116-L4")
    await broker.publish(body)
    [message] = await broker.take(results, 1)
    event = json.loads(message.body)
    aims = {a["ID"] for a in sandbox.learner(1007)["learning_aims"]}
    assert sandbox.stats()["faults_injected"]["apply_then_fail"] >= 1
    assert assignment_counts(sandbox) == {(1007, 101): 1}
    assert set(event["learning_aim_ids"]) == aims
    assert len(event["unit_summary_ids"]) == 4


async def test_a_learner_with_older_aims_gets_only_the_new_ones_in_the_event(
        broker, worker_factory, sandbox):
    results = await broker.bind_results()
    worker_factory(sandbox)
    older = {a["ID"] for a in sandbox.learner(1002)["learning_aims"]}
    assert older, "seed: learner 1002 has aims already"
    await broker.publish(enrolment(1002, "ST0117-L3"))
    [message] = await broker.take(results, 1)
    event = json.loads(message.body)
    assert event["learning_aim_ids"] and not set(event["learning_aim_ids"]) & older


async def test_a_rejected_template_is_dead_lettered_with_onefiles_reason(
        broker, worker_factory, sandbox):
    results = await broker.bind_results()
    worker_factory(sandbox)
    await broker.publish(enrolment(1008, "BAD-TEMPLATE"))
    [message] = await broker.take(results, 1)
    event = json.loads(message.body)
    [dead] = await broker.take("onefile-worker.dead", 1)
    assert event["event_type"] == "programme.assignment_failed"
    assert event["reason"] == "onefile_rejected" == dead.headers["x-failure-reason"]
    assert "404" in dead.headers["x-failure-detail"]
