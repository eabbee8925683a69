"""What an operator sees: metrics that move, logs that parse, and no token anywhere."""

from __future__ import annotations

import json

import httpx

from tests.worker_fixture import enrolment

SECRET = "s3cret-customer-token-do-not-log"


async def test_metrics_move_by_outcome_and_logs_are_json_with_message_fields(
        broker, worker_factory, sandbox_factory):
    sandbox = sandbox_factory(token=SECRET)
    results = await broker.bind_results()
    worker = worker_factory(sandbox)
    first = enrolment(1301, "ST0116-L4")
    await broker.publish(first)
    await broker.publish(first)
    await broker.publish(enrolment(1302, "NOWHERE"))
    await broker.publish(b"not json at all")
    events = await broker.take(results, 4)

    worker.wait_metric("onefile_worker_messages_total", 2, outcome="assigned")
    worker.wait_metric("onefile_worker_messages_total", 2, outcome="dead_lettered")
    assert worker.metric("onefile_worker_dead_letters_total", reason="unmapped_course") == 1
    assert worker.metric("onefile_worker_dead_letters_total", reason="invalid_message") == 1
    assert worker.metric("onefile_worker_message_processing_seconds_count") == 4
    assert worker.metric("onefile_api_requests_total", endpoint="FrameworkTemplate/Assign",
                         status_code="204") == 1
    assert worker.metric("onefile_api_request_duration_seconds_count") >= 5
    assert worker.metric("onefile_worker_consumers_active") == 1
    assert worker.metric("onefile_worker_last_message_timestamp_seconds") > 0

    lines = worker.log_lines()  # raises if any line is not JSON
    assigned = [line for line in lines if line["event"] == "course assigned"]
    assert len(assigned) == 2
    assert {k: assigned[0][k] for k in ("event_id", "learner_id", "course_code")} == {
        "event_id": first["event_id"], "learner_id": 1301, "course_code": "ST0116-L4"}
    assert all("attempt" in line and "outcome" in line for line in assigned)
    dead = [line for line in lines if line["event"] == "message dead-lettered"]
    assert sorted(line["reason"] for line in dead) == ["invalid_message", "unmapped_course"]
    startup = next(line for line in lines if line["event"] == "onefile-worker starting")
    assert startup["config"]["ONEFILE_CUSTOMER_TOKEN"] == "***"

    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{worker.url}/metrics")).text
    worker.terminate()
    everything = metrics + worker.output() + "".join(m.body.decode() for m in events)
    assert SECRET not in everything
    assert SECRET not in json.dumps(sandbox.stats())
