"""What the sandbox's Onefile holds and what each endpoint does to it, without any HTTP.

Learning aims and unit summaries live in dicts keyed by ID; because every new ID is larger
than every older one, insertion order is ID order and searches need no sorting. Failures are
two exceptions the app maps to status codes: :class:`NotFound` (404) and :class:`Invalid`
(400). The counters behind ``/_sandbox/stats`` ``assignments`` live here too, because what
counts as "the effect was applied" is a question of semantics, not of transport.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from worker.sandbox.seed import Learner, Seed

T = TypeVar("T")

#: Largest ``pageSize`` a paged search accepts.
MAX_PAGE_SIZE = 1000


class NotFound(LookupError):
    """A template, standard, unit or learner named in the request does not exist (404)."""


class Invalid(ValueError):
    """The request is well-routed but cannot be carried out as asked (400)."""


def iso_utc(moment: datetime) -> str:
    """Format like Onefile: ``2022-02-23T12:49:33.150Z`` (milliseconds, UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def page(items: Sequence[T], number: int, size: int) -> Sequence[T]:
    """Return 1-based page ``number`` of ``items``; bad paging raises :class:`Invalid`."""
    if number < 1:
        raise Invalid(f"pageNumber must be at least 1, got {number}")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise Invalid(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {size}")
    start = (number - 1) * size
    return items[start : start + size]


@dataclass
class LearningAim:
    id: int
    standard_id: int
    user_id: int
    status: str
    start_date: str
    version: int = 1
    updated: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "StandardID": self.standard_id,
            "UserID": self.user_id,
            "Status": self.status,
            "StartDate": self.start_date,
        }


@dataclass(frozen=True)
class UnitSummary:
    id: int
    unit_id: int
    learning_aim_id: int
    standard_id: int
    user_id: int

    def to_api(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "UnitID": self.unit_id,
            "LearningAimID": self.learning_aim_id,
            "StandardID": self.standard_id,
            "UserID": self.user_id,
        }


def _user_to_api(learner: Learner) -> dict[str, Any]:
    return {
        "ID": learner.id,
        "FirstName": learner.first_name,
        "LastName": learner.last_name,
        "MISID": learner.misid,
        "OrganisationID": learner.organisation_id,
    }


def _title_matches(title: str, wanted: str | None) -> bool:
    return wanted is None or wanted.casefold() in title.casefold()


def _equal_folded(value: str, wanted: str | None) -> bool:
    return wanted is None or value.casefold() == wanted.casefold()


class State:
    """The mutable data of one sandbox run, built from a :class:`Seed`."""

    def __init__(self, seed: Seed, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.seed = seed
        self._now = now
        self._aims: dict[int, LearningAim] = {}
        self._summaries: dict[int, UnitSummary] = {}
        self._aims_by_user: dict[int, dict[int, LearningAim]] = {}
        self._summaries_by_user: dict[int, dict[int, UnitSummary]] = {}
        self._summaries_by_aim: dict[int, list[int]] = {}
        self.template_assignments: Counter[tuple[int, int]] = Counter()
        self.template_only_change: Counter[tuple[int, int]] = Counter()
        self.standard_assignments: Counter[tuple[int, int]] = Counter()
        self.unit_assignments: Counter[tuple[int, int, int]] = Counter()
        self._next_aim_id = seed.ids.seeded_aims
        self._next_summary_id = seed.ids.seeded_unit_summaries
        for aim in seed.aims:
            created = self._add_aim(aim.learner_id, aim.standard_id, aim.status, aim.start_date)
            for unit_id in aim.unit_ids:
                self._add_summary(created, unit_id)
        self._next_aim_id = max(self._next_aim_id, seed.ids.new_aims)
        self._next_summary_id = max(self._next_summary_id, seed.ids.new_unit_summaries)

    # -- searches -------------------------------------------------------------------------

    def search_templates(self, organisation_id: int | None, title: str | None) -> list[dict]:
        return [
            {"ID": t.id, "Title": t.title, "OrganisationID": t.organisation_id}
            for t in sorted(self.seed.templates.values(), key=lambda t: t.id)
            if organisation_id in (None, t.organisation_id) and _title_matches(t.title, title)
        ]

    def search_standards(self, organisation_id: int | None, title: str | None) -> list[dict]:
        return [
            {"ID": s.id, "Title": s.title}
            for s in sorted(self.seed.standards.values(), key=lambda s: s.id)
            if organisation_id in (None, s.organisation_id) and _title_matches(s.title, title)
        ]

    def search_units(self, standard_id: int | None) -> list[dict]:
        return [
            {"ID": u.id, "Title": u.title, "StandardID": u.standard_id}
            for u in sorted(self.seed.units.values(), key=lambda u: u.id)
            if standard_id in (None, u.standard_id)
        ]

    def search_users(
        self,
        number: int,
        size: int,
        *,
        organisation_id: int | None = None,
        misid: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> list[dict]:
        """Filters are exact (names and MISID case-insensitively); results by ID."""
        matches = [
            learner
            for learner in self.seed.learners.values()
            if organisation_id in (None, learner.organisation_id)
            and _equal_folded(learner.misid, misid)
            and _equal_folded(learner.first_name, first_name)
            and _equal_folded(learner.last_name, last_name)
        ]
        return [_user_to_api(learner) for learner in page(matches, number, size)]

    def search_aims(self, user_id: int | None, number: int, size: int) -> list[dict]:
        source = self._aims if user_id is None else self._aims_by_user.get(user_id, {})
        return [aim.to_api() for aim in page(list(source.values()), number, size)]

    def search_unit_summaries(self, user_id: int | None, number: int, size: int) -> list[dict]:
        source = self._summaries if user_id is None else self._summaries_by_user.get(user_id, {})
        return [s.to_api() for s in page(list(source.values()), number, size)]

    # -- assignments ----------------------------------------------------------------------

    def assign_template(self, template_id: int, user_id: int, only_change_assigned: bool) -> None:
        """Override (or, with ``only_change_assigned``, only touch) the template's aims."""
        template = self.seed.templates.get(template_id)
        if template is None:
            raise NotFound(f"FrameworkTemplate {template_id} was not found.")
        self._learner(user_id)
        key = (user_id, template_id)
        if only_change_assigned:
            stamp = iso_utc(self._now())
            for aim in self._aims_by_user.get(user_id, {}).values():
                if aim.standard_id in template.standard_ids:
                    aim.version += 1
                    aim.updated = stamp
            self.template_only_change[key] += 1
            return
        for standard_id in template.standard_ids:
            self._remove_aims(user_id, standard_id)
        start = iso_utc(self._now())
        for standard_id in template.standard_ids:
            aim = self._add_aim(user_id, standard_id, "Active", start)
            for unit_id in self.seed.standards[standard_id].unit_ids:
                self._add_summary(aim, unit_id)
        self.template_assignments[key] += 1

    def assign_standard(self, standard_id: int, user_id: int) -> int:
        """Create one new learning aim (no unit summaries); return its ID."""
        if standard_id not in self.seed.standards:
            raise NotFound(f"Standard {standard_id} was not found.")
        self._learner(user_id)
        aim = self._add_aim(user_id, standard_id, "Active", iso_utc(self._now()))
        self.standard_assignments[(user_id, standard_id)] += 1
        return aim.id

    def assign_unit(self, unit_id: int, user_id: int, standard_id: int) -> int:
        """Attach a new unit summary to the learner's newest aim on ``standard_id``."""
        unit = self.seed.units.get(unit_id)
        if unit is None:
            raise NotFound(f"Unit {unit_id} was not found.")
        if standard_id not in self.seed.standards:
            raise NotFound(f"Standard {standard_id} was not found.")
        self._learner(user_id)
        if unit.standard_id != standard_id:
            raise Invalid(f"Unit {unit_id} is not part of standard {standard_id}.")
        aims = [
            a for a in self._aims_by_user.get(user_id, {}).values() if a.standard_id == standard_id
        ]
        if not aims:
            raise Invalid(f"Learner {user_id} has no learning aim for standard {standard_id}.")
        summary = self._add_summary(aims[-1], unit_id)
        self.unit_assignments[(user_id, unit_id, standard_id)] += 1
        return summary.id

    # -- views for /_sandbox --------------------------------------------------------------

    def learner_view(self, user_id: int) -> dict[str, Any]:
        learner = self._learner(user_id)
        return {
            "learner": _user_to_api(learner),
            "learning_aims": [
                {**aim.to_api(), "Version": aim.version, "Updated": aim.updated}
                for aim in self._aims_by_user.get(user_id, {}).values()
            ],
            "unit_summaries": [
                s.to_api() for s in self._summaries_by_user.get(user_id, {}).values()
            ],
        }

    def assignment_stats(self) -> dict[str, list[dict[str, int]]]:
        keys = sorted(set(self.template_assignments) | set(self.template_only_change))
        return {
            "assignments": [
                {
                    "learner_id": learner_id,
                    "template_id": template_id,
                    "count": self.template_assignments[(learner_id, template_id)],
                    "only_change_count": self.template_only_change[(learner_id, template_id)],
                }
                for learner_id, template_id in keys
            ],
            "standard_assignments": [
                {"learner_id": lid, "standard_id": sid, "count": n}
                for (lid, sid), n in sorted(self.standard_assignments.items())
            ],
            "unit_assignments": [
                {"learner_id": lid, "unit_id": uid, "standard_id": sid, "count": n}
                for (lid, uid, sid), n in sorted(self.unit_assignments.items())
            ],
        }

    # -- internals ------------------------------------------------------------------------

    def _learner(self, user_id: int) -> Learner:
        learner = self.seed.learners.get(user_id)
        if learner is None:
            raise NotFound(f"User {user_id} was not found.")
        return learner

    def _add_aim(self, user_id: int, standard_id: int, status: str, start: str) -> LearningAim:
        aim = LearningAim(self._next_aim_id, standard_id, user_id, status, start)
        self._next_aim_id += 1
        self._aims[aim.id] = aim
        self._aims_by_user.setdefault(user_id, {})[aim.id] = aim
        return aim

    def _add_summary(self, aim: LearningAim, unit_id: int) -> UnitSummary:
        summary = UnitSummary(self._next_summary_id, unit_id, aim.id, aim.standard_id, aim.user_id)
        self._next_summary_id += 1
        self._summaries[summary.id] = summary
        self._summaries_by_user.setdefault(aim.user_id, {})[summary.id] = summary
        self._summaries_by_aim.setdefault(aim.id, []).append(summary.id)
        return summary

    def _remove_aims(self, user_id: int, standard_id: int) -> None:
        user_aims = self._aims_by_user.get(user_id, {})
        user_summaries = self._summaries_by_user.get(user_id, {})
        for aim_id in [a.id for a in user_aims.values() if a.standard_id == standard_id]:
            del user_aims[aim_id]
            del self._aims[aim_id]
            for summary_id in self._summaries_by_aim.pop(aim_id, []):
                user_summaries.pop(summary_id, None)
                self._summaries.pop(summary_id, None)
