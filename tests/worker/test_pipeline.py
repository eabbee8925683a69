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
