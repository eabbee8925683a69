"""Assign a course to a learner in Onefile at most once, and say which aims it created.

The ledger's intent is written before the first non-idempotent call, with the learner's
aims as they were. Whatever happens next (a kill, a timeout, a 500 after the effect), the
next attempt looks at the learner's aims again and assigns only if nothing new appeared.

Onefile calls per enrolment (auth aside, once a day):

* framework template: 4 — aims before (the snapshot the diff and any recovery need),
  the assign, aims after (what it created), unit summaries (those of the new aims;
  skipped when no aim is new, as with ``only_change_assigned``).
* standards plan: 2 + standards + units — aims and unit summaries before (the snapshot
  recovery needs to tell our items from older ones), then one call per standard and
  unit; their answers are the new IDs, so nothing is searched afterwards.
* a recovery (an intent without a completion) adds the searches that find out what the
  interrupted attempt did; an already-completed (learner, course) costs none.

Per-learner locks keep two messages for one learner from interleaving, so snapshots
stay true (one active consumer per queue makes in-process locks enough).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import structlog

from worker.errors import AmbiguousError
from worker.ledger import Assignment, Ledger, Progress
from worker.mapping import CoursePlan
from worker.onefile import LearningAim, OnefileClient

__all__ = ["Assigner", "LearnerLocks"]

log = structlog.get_logger(__name__)


class LearnerLocks:
    """One asyncio.Lock per learner, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, learner_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(learner_id, (asyncio.Lock(), 0))
        self._locks[learner_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[learner_id]
            if users <= 1:
                del self._locks[learner_id]
            else:
                self._locks[learner_id] = (lock, users - 1)


def _same_unit(a: int | str | None, b: int | str) -> bool:
    return a is not None and str(a) == str(b)


class Assigner:
    def __init__(self, client: OnefileClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.locks = LearnerLocks()

    async def assign(self, event_id: str, learner_id: int, course_code: str,
                     plan: CoursePlan) -> Assignment:
        """Return the completed assignment of ``course_code`` to the learner.

        Raises ``TransientError`` (including ``AmbiguousError``) when it cannot tell or
        cannot reach Onefile yet, ``PermanentError`` when Onefile rejects the request.
        """
        async with self.locks.hold(learner_id):
            record = await self.ledger.assignment(learner_id, course_code)
            if record is not None and record.done:
                return record
            if plan.is_template:
                return await self._template(event_id, learner_id, course_code, plan, record)
            return await self._standards(event_id, learner_id, course_code, plan, record)

    # -- framework template -------------------------------------------------------------

    async def _template(self, event_id: str, learner_id: int, course_code: str,
                        plan: CoursePlan, record: Assignment | None) -> Assignment:
        aims = await self.client.search_learning_aims(learner_id)
        if record is not None:
            # Aims that other courses' assignments created since the snapshot are theirs.
            claimed, _ = await self._claimed(learner_id, course_code)
            new = _new_aims(aims, [*record.aims_before, *claimed])
            if new:
                log.info("an earlier attempt's assignment had taken effect; not assigning again",
                         event_id=event_id, learner_id=learner_id, course_code=course_code,
                         learning_aim_ids=sorted(a.id for a in new))
                return await self._complete_template(learner_id, course_code, new)
            log.info("an earlier attempt had not taken effect; assigning",
                     event_id=event_id, learner_id=learner_id, course_code=course_code)
        template_id = plan.framework_template_id
        assert template_id is not None
        before = [a.id for a in aims]
        await self.ledger.begin(learner_id, course_code, event_id,
                                framework_template_id=template_id,
                                aims_before=before, units_before=None)
        try:
            await self.client.assign_framework_template(
                template_id, learner_id, only_change_assigned=plan.only_change_assigned)
        except AmbiguousError as exc:
            new = _new_aims(await self.client.search_learning_aims(learner_id), before)
            if not new:
                raise AmbiguousError(
                    f"template {template_id} assign outcome unknown ({exc}) and no new learning "
                    "aims yet; will look again before assigning", status_code=exc.status_code,
                ) from exc
            log.info("the assign's answer was lost but it took effect",
                     event_id=event_id, learner_id=learner_id, course_code=course_code)
        else:
            new = _new_aims(await self.client.search_learning_aims(learner_id), before)
        return await self._complete_template(learner_id, course_code, new)

    async def _claimed(self, learner_id: int, course_code: str) -> tuple[set[int], set[int]]:
        """Aim and unit-summary IDs the ledger attributes to the learner's other courses."""
        aims: set[int] = set()
        units: set[int] = set()
        for other in await self.ledger.assignments_of(learner_id):
            if other.course_code != course_code:
                aims.update(other.learning_aim_ids, other.progress.aims.values())
                units.update(other.unit_summary_ids, other.progress.units.values())
        return aims, units

    async def _complete_template(self, learner_id: int, course_code: str,
                                 new_aims: list[LearningAim]) -> Assignment:
        unit_ids: list[int] = []
        aim_ids = {a.id for a in new_aims}
        if new_aims:
            standards = {a.standard_id for a in new_aims if a.standard_id is not None}
            for summary in await self.client.search_unit_summaries(learner_id):
                # Onefile may leave LearningAimID off a summary: then its standard decides
                # (a template assign replaces the learner's older aims on its standards).
                if summary.learning_aim_id is not None:
                    if summary.learning_aim_id in aim_ids:
                        unit_ids.append(summary.id)
                elif summary.standard_id in standards:
                    unit_ids.append(summary.id)
        return await self.ledger.complete(learner_id, course_code,
                                          learning_aim_ids=sorted(aim_ids),
                                          unit_summary_ids=sorted(unit_ids))

    # -- standards plan -----------------------------------------------------------------

    async def _standards(self, event_id: str, learner_id: int, course_code: str,
                         plan: CoursePlan, record: Assignment | None) -> Assignment:
        if record is None:
            aims = await self.client.search_learning_aims(learner_id)
            units = await self.client.search_unit_summaries(learner_id)
            record = await self.ledger.begin(
                learner_id, course_code, event_id, framework_template_id=None,
                aims_before=[a.id for a in aims], units_before=[u.id for u in units])
        else:
            await self._recover_plan(record, plan)
        progress = record.progress
        for standard in plan.standards or ():
            if standard.id not in progress.aims:
                try:
                    aim_id = await self.client.assign_standard(standard.id, learner_id)
                except AmbiguousError as exc:
                    await self._recover_plan(record, plan)
                    if standard.id not in progress.aims:
                        raise AmbiguousError(
                            f"standard {standard.id} assign outcome unknown ({exc}); will look "
                            "again before assigning", status_code=exc.status_code) from exc
                else:
                    progress.aims[standard.id] = aim_id
                    await self.ledger.save_progress(learner_id, course_code, progress)
            for unit in standard.units:
                key = Progress.unit_key(standard.id, unit)
                if key in progress.units:
                    continue
                try:
                    summary_id = await self.client.assign_unit(unit, learner_id, standard.id)
                except AmbiguousError as exc:
                    await self._recover_plan(record, plan)
                    if key not in progress.units:
                        raise AmbiguousError(
                            f"unit {unit} assign outcome unknown ({exc}); will look again "
                            "before assigning", status_code=exc.status_code) from exc
                else:
                    progress.units[key] = summary_id
                    await self.ledger.save_progress(learner_id, course_code, progress)
        return await self.ledger.complete(
            learner_id, course_code,
            learning_aim_ids=list(progress.aims.values()),
            unit_summary_ids=list(progress.units.values()))

    async def _recover_plan(self, record: Assignment, plan: CoursePlan) -> None:
        """Fill ``record.progress`` with steps that took effect but were never recorded."""
        progress = record.progress
        learner_id = record.learner_id
        wanted_aims = [s.id for s in plan.standards or () if s.id not in progress.aims]
        wanted_units = [(s.id, u) for s in plan.standards or () for u in s.units
                        if Progress.unit_key(s.id, u) not in progress.units]
        if not wanted_aims and not wanted_units:
            return
        changed = False
        claimed_aims, claimed_units = await self._claimed(learner_id, record.course_code)
        if wanted_aims:
            known = set(record.aims_before) | set(progress.aims.values()) | claimed_aims
            for aim in await self.client.search_learning_aims(learner_id):
                if aim.id not in known and aim.standard_id in wanted_aims:
                    progress.aims[aim.standard_id] = aim.id
                    wanted_aims.remove(aim.standard_id)
                    known.add(aim.id)
                    changed = True
        if wanted_units:
            known = (set(record.units_before or ()) | set(progress.units.values())
                     | claimed_units)
            for summary in await self.client.search_unit_summaries(learner_id):
                if summary.id in known:
                    continue
                for standard_id, unit in wanted_units:
                    aim_id = progress.aims.get(standard_id)
                    belongs = (summary.learning_aim_id == aim_id if summary.learning_aim_id
                               is not None else summary.standard_id == standard_id)
                    if belongs and _same_unit(summary.unit_id, unit):
                        progress.units[Progress.unit_key(standard_id, unit)] = summary.id
                        wanted_units.remove((standard_id, unit))
                        known.add(summary.id)
                        changed = True
                        break
        if changed:
            log.info("found steps of an earlier attempt that had taken effect",
                     learner_id=learner_id, course_code=record.course_code)
            await self.ledger.save_progress(learner_id, record.course_code, progress)


def _new_aims(aims: list[LearningAim], before: Iterable[int]) -> list[LearningAim]:
    known = set(before)
    return [a for a in aims if a.id not in known]
