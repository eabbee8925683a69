"""Assigner: at most once per (learner, course), whatever is interrupted or ambiguous.

Unit tests of worker/assign.py against an in-memory stand-in for the client (the
integration tests cover the real client and the sandbox over HTTP).
"""

from __future__ import annotations

import itertools

import pytest

from worker.assign import Assigner
from worker.errors import AmbiguousError
from worker.ledger import SqliteLedger
from worker.mapping import CoursePlan, StandardPlan
from worker.onefile import LearningAim, UnitSummary

TEMPLATES = {101: {507: [9010, 9011], 508: [9020]}, 102: {509: [9030]}}


class FakeOnefile:
    """Just enough of OnefileClient, with scripted failures of the next assign."""

    def __init__(self) -> None:
        self.ids = itertools.count(50_000)
        self.aims: list[LearningAim] = []
        self.units: list[UnitSummary] = []
        self.assigns: list[tuple] = []
        self.next_assign: list[str] = []  # "lost" (effect, then error) or "refused" (no effect)

    def _outcome(self) -> str | None:
        return self.next_assign.pop(0) if self.next_assign else None

    def _aim(self, learner: int, standard: int) -> int:
        aim = LearningAim(id=next(self.ids), standard_id=standard, user_id=learner, status="A")
        self.aims.append(aim)
        return aim.id

    def _unit(self, learner: int, standard: int, aim: int, unit: int) -> int:
        summary = UnitSummary(id=next(self.ids), unit_id=unit, learning_aim_id=aim,
                              standard_id=standard)
        self.units.append(summary)
        return summary.id

    async def search_learning_aims(self, user_id: int) -> list[LearningAim]:
        return [a for a in self.aims if a.user_id == user_id]

    async def search_unit_summaries(self, user_id: int) -> list[UnitSummary]:
        aims = {a.id for a in self.aims if a.user_id == user_id}
        return [u for u in self.units if u.learning_aim_id in aims]

    async def assign_framework_template(self, template_id: int, user_id: int, *,
                                        only_change_assigned: bool = False) -> None:
        outcome = self._outcome()
        if outcome == "refused":
            raise AmbiguousError("500 before the effect")
        self.assigns.append(("template", user_id, template_id))
        for standard, units in TEMPLATES[template_id].items():
            aim = self._aim(user_id, standard)
            for unit in units:
                self._unit(user_id, standard, aim, unit)
        if outcome == "lost":
            raise AmbiguousError("500 after the effect")

    async def assign_standard(self, standard_id: int, learner_id: int) -> int:
        outcome = self._outcome()
        if outcome == "refused":
            raise AmbiguousError("timeout before the effect")
        self.assigns.append(("standard", learner_id, standard_id))
        aim = self._aim(learner_id, standard_id)
        if outcome == "lost":
            raise AmbiguousError("timeout after the effect")
        return aim

    async def assign_unit(self, unit_id: int, learner_id: int, standard_id: int) -> int:
        outcome = self._outcome()
        if outcome == "refused":
            raise AmbiguousError("reset before the effect")
        self.assigns.append(("unit", learner_id, unit_id))
        aim = max(a.id for a in self.aims
                  if a.user_id == learner_id and a.standard_id == standard_id)
        summary = self._unit(learner_id, standard_id, aim, unit_id)
        if outcome == "lost":
            raise AmbiguousError("reset after the effect")
        return summary


TEMPLATE = CoursePlan(framework_template_id=101)
OTHER_TEMPLATE = CoursePlan(framework_template_id=102)
PLAN = CoursePlan(standards=(StandardPlan(id=507, units=(9010, 9011)),
                             StandardPlan(id=509, units=(9030,))))


@pytest.fixture
async def setup(tmp_path):
    ledger = SqliteLedger(str(tmp_path / "ledger.db"))
    await ledger.open()
    onefile = FakeOnefile()
    yield onefile, ledger, Assigner(onefile, ledger)
    await ledger.close()


async def test_a_template_is_assigned_once_and_the_record_names_its_new_aims_and_units(setup):
    onefile, _, assigner = setup
    onefile._aim(7, 505)  # an older aim that must not be reported
    record = await assigner.assign("e1", 7, "C", TEMPLATE)
    again = await assigner.assign("e2", 7, "C", TEMPLATE)
    assert onefile.assigns == [("template", 7, 101)]
    assert len(record.learning_aim_ids) == 2 and len(record.unit_summary_ids) == 3
    assert again.event_id == "e1" and again.learning_aim_ids == record.learning_aim_ids


async def test_an_assign_whose_answer_was_lost_after_the_effect_is_not_repeated(setup):
    onefile, _, assigner = setup
    onefile.next_assign = ["lost"]
    record = await assigner.assign("e1", 7, "C", TEMPLATE)
    assert onefile.assigns == [("template", 7, 101)]
    assert len(record.learning_aim_ids) == 2 and record.done


async def test_an_ambiguous_assign_without_effect_is_retried_later_and_then_assigned_once(setup):
    onefile, _, assigner = setup
    onefile.next_assign = ["refused"]
    with pytest.raises(AmbiguousError):
        await assigner.assign("e1", 7, "C", TEMPLATE)
    record = await assigner.assign("e1", 7, "C", TEMPLATE)
    assert onefile.assigns == [("template", 7, 101)] and record.done


async def test_an_interrupted_intent_whose_assign_took_effect_is_completed_without_assigning(
        setup):
    onefile, ledger, assigner = setup
    await ledger.begin(7, "C", "e1", framework_template_id=101, aims_before=[],
                       units_before=None)
    await onefile.assign_framework_template(101, 7)  # the process died right after this
    record = await assigner.assign("e1", 7, "C", TEMPLATE)
    assert len(onefile.assigns) == 1 and len(record.learning_aim_ids) == 2


async def test_another_courses_new_aims_are_not_mistaken_for_an_interrupted_assign(setup):
    onefile, _, assigner = setup
    onefile.next_assign = ["refused"]
    with pytest.raises(AmbiguousError):
        await assigner.assign("a", 7, "C", TEMPLATE)  # waits for a delayed retry
    other = await assigner.assign("b", 7, "D", OTHER_TEMPLATE)  # meanwhile, another course
    record = await assigner.assign("a", 7, "C", TEMPLATE)
    assert onefile.assigns == [("template", 7, 102), ("template", 7, 101)]
    assert not set(record.learning_aim_ids) & set(other.learning_aim_ids)
    assert len(record.learning_aim_ids) == 2


async def test_a_standards_plan_makes_one_call_per_step_and_records_the_returned_ids(setup):
    onefile, _, assigner = setup
    record = await assigner.assign("e1", 8, "P", PLAN)
    assert [a[0] for a in onefile.assigns] == ["standard", "unit", "unit", "standard", "unit"]
    assert len(record.learning_aim_ids) == 2 and len(record.unit_summary_ids) == 3


@pytest.mark.parametrize("step", range(5))
@pytest.mark.parametrize("how", ["lost", "refused"])
async def test_a_plan_step_with_an_unknown_outcome_is_done_exactly_once(setup, step, how):
    onefile, _, assigner = setup
    onefile.next_assign = [None] * step + [how]
    try:
        record = await assigner.assign("e1", 8, "P", PLAN)
    except AmbiguousError:
        record = await assigner.assign("e1", 8, "P", PLAN)
    assert sorted(onefile.assigns) == sorted([
        ("standard", 8, 507), ("unit", 8, 9010), ("unit", 8, 9011), ("standard", 8, 509),
        ("unit", 8, 9030)])
    assert sorted(record.learning_aim_ids) == sorted(a.id for a in onefile.aims)
    assert sorted(record.unit_summary_ids) == sorted(u.id for u in onefile.units)
