"""What every ledger backend promises, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import inspect

import pytest
from prometheus_client import REGISTRY

from worker.ledger import Ledger, PostgresLedger, Progress, SqliteLedger

LEARNER = 4242
COURSE = "ST0116-L4"


async def begin(ledger: Ledger, event_id: str = "evt-1", *, aims_before: list[int] | None = None,
                units_before: list[int] | None = None, template: int | None = 101):
    return await ledger.begin(LEARNER, COURSE, event_id, framework_template_id=template,
                              aims_before=[3, 1, 2] if aims_before is None else aims_before,
                              units_before=units_before)


@pytest.mark.parametrize("backend", [SqliteLedger, PostgresLedger])
def test_every_backend_has_every_method_of_the_ledger_interface_with_its_signature(backend):
    wanted = {name: inspect.signature(member) for name, member in vars(Ledger).items()
              if inspect.iscoroutinefunction(member)}

    found = {name: inspect.signature(getattr(backend, name, None) or (lambda: None))
             for name in wanted}

    assert found == wanted


async def test_an_empty_ledger_knows_no_assignment_and_no_published_event(ledger):
    assert await ledger.assignment(LEARNER, COURSE) is None
    assert await ledger.published("evt-1") is None


async def test_begin_records_an_intent_with_the_sorted_snapshot(ledger):
    record = await begin(ledger, units_before=[9, 7])

    assert record == await ledger.assignment(LEARNER, COURSE)
    assert (record.learner_id, record.course_code, record.event_id) == (LEARNER, COURSE, "evt-1")
    assert record.state == "intent" and not record.done
    assert record.framework_template_id == 101
    assert record.aims_before == [1, 2, 3]
    assert record.units_before == [7, 9]
    assert record.progress == Progress()
    assert record.learning_aim_ids == [] and record.unit_summary_ids == []


async def test_begin_keeps_a_missing_unit_snapshot_apart_from_an_empty_one(ledger):
    assert (await begin(ledger, units_before=None)).units_before is None
    assert (await begin(ledger, units_before=[])).units_before == []


async def test_begin_by_another_event_takes_over_the_intent_and_keeps_its_progress(ledger):
    await begin(ledger, "evt-1", template=None, units_before=[])
    progress = Progress(aims={507: 70}, units={Progress.unit_key(507, 9010): 90})
    await ledger.save_progress(LEARNER, COURSE, progress)

    record = await begin(ledger, "evt-2", aims_before=[5, 4], units_before=[8], template=None)

    assert record.event_id == "evt-2"
    assert record.aims_before == [4, 5] and record.units_before == [8]
    assert record.state == "intent"
    assert record.progress == progress


async def test_complete_turns_the_intent_into_done_with_the_sorted_created_ids(ledger):
    await begin(ledger)

    record = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[12, 11],
                                   unit_summary_ids=[23, 21, 22])

    assert record == await ledger.assignment(LEARNER, COURSE)
    assert record.done and record.event_id == "evt-1"
    assert record.learning_aim_ids == [11, 12]
    assert record.unit_summary_ids == [21, 22, 23]
    assert record.aims_before == [1, 2, 3]


async def test_begin_never_overwrites_a_completed_assignment(ledger):
    await begin(ledger, "evt-1")
    done = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[11], unit_summary_ids=[21])

    record = await begin(ledger, "evt-2", aims_before=[1, 2, 3, 11], template=102)

    assert record == done
    assert await ledger.assignment(LEARNER, COURSE) == done


async def test_complete_a_second_time_keeps_the_first_completion(ledger):
    await begin(ledger)
    first = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[11], unit_summary_ids=[21])

    again = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[99], unit_summary_ids=[])

    assert again == first


async def test_saved_progress_is_read_back(ledger):
    await begin(ledger, template=None, units_before=[])
    progress = Progress(aims={507: 70, 509: 71},
                        units={Progress.unit_key(507, 9010): 90, Progress.unit_key(509, "x"): 91})

    await ledger.save_progress(LEARNER, COURSE, progress)

    assert (await ledger.assignment(LEARNER, COURSE)).progress == progress


async def test_progress_saved_after_completion_changes_nothing(ledger):
    await begin(ledger, template=None, units_before=[])
    done = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[70], unit_summary_ids=[])

    await ledger.save_progress(LEARNER, COURSE, Progress(aims={507: 70}))

    assert await ledger.assignment(LEARNER, COURSE) == done


async def test_save_progress_without_an_intent_records_nothing(ledger):
    await ledger.save_progress(LEARNER, COURSE, Progress(aims={507: 70}))

    assert await ledger.assignment(LEARNER, COURSE) is None


async def test_remember_published_stores_the_body_byte_for_byte(ledger):
    body = b'{"event_id": "out-1", "note": "caf\xc3\xa9"}\x00\xff'

    assert await ledger.remember_published("evt-1", body) == body
    assert await ledger.published("evt-1") == body


async def test_remember_published_keeps_the_first_body_and_returns_it(ledger):
    await ledger.remember_published("evt-1", b'{"first": true}')

    stored = await ledger.remember_published("evt-1", b'{"second": true}')

    assert stored == b'{"first": true}'
    assert await ledger.published("evt-1") == b'{"first": true}'


async def test_assignments_are_kept_per_learner_and_course(ledger):
    await begin(ledger)
    await ledger.complete(LEARNER, COURSE, learning_aim_ids=[11], unit_summary_ids=[])

    other = await ledger.begin(LEARNER, "ST0117-L3", "evt-2", framework_template_id=102,
                               aims_before=[11], units_before=None)

    assert other.state == "intent" and other.event_id == "evt-2"
    assert await ledger.assignment(LEARNER + 1, COURSE) is None


async def test_assignments_of_lists_every_course_of_the_learner_done_or_not(ledger):
    await begin(ledger)
    done = await ledger.complete(LEARNER, COURSE, learning_aim_ids=[11], unit_summary_ids=[])
    intent = await ledger.begin(LEARNER, "TL-CUSTOM", "evt-2", framework_template_id=None,
                                aims_before=[11], units_before=[])
    await ledger.begin(LEARNER + 1, COURSE, "evt-3", framework_template_id=101,
                       aims_before=[], units_before=None)

    records = await ledger.assignments_of(LEARNER)

    assert sorted(records, key=lambda r: r.course_code) == [done, intent]
    assert await ledger.assignments_of(LEARNER + 2) == []


async def test_every_operation_is_timed_in_the_ledger_histogram(ledger):
    def counts() -> dict[str, float]:
        return {op: REGISTRY.get_sample_value("onefile_worker_ledger_operation_seconds_count",
                                              {"operation": op}) or 0.0
                for op in ("published", "assignment", "assignments_of", "begin",
                           "save_progress", "complete", "remember_published")}

    before = counts()
    await begin(ledger, template=None, units_before=[])
    await ledger.save_progress(LEARNER, COURSE, Progress(aims={507: 70}))
    await ledger.complete(LEARNER, COURSE, learning_aim_ids=[70], unit_summary_ids=[])
    await ledger.assignment(LEARNER, COURSE)
    await ledger.assignments_of(LEARNER)
    await ledger.remember_published("evt-1", b"{}")
    await ledger.published("evt-1")
    after = counts()

    assert all(after[op] > before[op] for op in before), (before, after)


async def test_the_call_journal_returns_the_calls_since_a_time_in_order(ledger):
    for at in (100.0, 160.5, 130.25):
        await ledger.record_call(at)
    assert await ledger.calls_since(130.0) == [130.25, 160.5]
    assert await ledger.calls_since(200.0) == []
