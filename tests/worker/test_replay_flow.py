"""The operator's loop: unmapped courses dead-lettered, mapping fixed, replayed, assigned."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from tests.worker_fixture import AMQP_URL, MAPPING, enrolment


async def test_unmapped_courses_are_assigned_after_the_mapping_is_fixed_and_they_are_replayed(
        broker, worker_factory, sandbox, tmp_path):
    results = await broker.bind_results()
    worker = worker_factory(sandbox)
    waiting = [enrolment(1501 + i, "NEW-COURSE") for i in range(3)]
    for body in waiting:
        await broker.publish(body)
    await broker.publish(b"<xml>not an enrolment</xml>")
    failed = [json.loads(m.body) for m in await broker.take(results, 4)]
    assert sorted(e["reason"] for e in failed) == ["invalid_message"] + ["unmapped_course"] * 3

    fixed = tmp_path / "mapping.yaml"
    fixed.write_text(MAPPING.read_text() + "  NEW-COURSE:\n    framework_template_id: 102\n")
    worker.terminate()
    fixed_worker = worker_factory(sandbox, mapping_file=str(fixed))
    replay = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "worker", "dlq", "replay", "--reason",
                         "unmapped_course"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "AMQP_URL": AMQP_URL})
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.strip() == "moved 3 message(s)"

    assigned = [json.loads(m.body) for m in await broker.take(results, 3)]
    assert sorted(e["causation_id"] for e in assigned) == sorted(b["event_id"] for b in waiting)
    assert all(e["event_type"] == "programme.assigned" and e["framework_template_id"] == 102
               for e in assigned)
    await asyncio.to_thread(fixed_worker.wait_metric, "onefile_worker_replays_total", 3)
    [left] = await broker.take("onefile-worker.dead", 1)
    assert left.body == b"<xml>not an enrolment</xml>"
    assert left.headers["x-failure-reason"] == "invalid_message"
