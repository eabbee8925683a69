"""The ledger's records and the interface every backend implements.

Per (learner, course) the ledger holds one ``Assignment``: an *intent* written before the
first non-idempotent Onefile call, with the learner's aim (and unit summary) IDs as they
were before it, then a *completion* with the IDs the assignment created. Per input event
it keeps the body of the result event it published, so a redelivery republishes the
same bytes without calling Onefile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["CALL_KEEP_S", "CALL_PRUNE_EVERY", "Assignment", "Ledger", "Progress"]

#: The call journal keeps a few windows' worth of admissions, pruned every so many calls.
CALL_KEEP_S = 600.0
CALL_PRUNE_EVERY = 500


@dataclass
class Progress:
    """Steps of a standards plan already done: standard -> aim, "standard:unit" -> summary."""

    aims: dict[int, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def unit_key(standard_id: int, unit_id: int | str) -> str:
        return f"{standard_id}:{unit_id}"

    def to_json(self) -> dict:
        return {"aims": {str(k): v for k, v in self.aims.items()}, "units": dict(self.units)}

    @classmethod
    def from_json(cls, data: dict | None) -> Progress:
        data = data or {}
        return cls(
            aims={int(k): int(v) for k, v in data.get("aims", {}).items()},
            units={str(k): int(v) for k, v in data.get("units", {}).items()},
        )


@dataclass
class Assignment:
    learner_id: int
    course_code: str
    event_id: str  # the event that owns this assignment (its result says already_assigned=false)
    state: Literal["intent", "done"]
    framework_template_id: int | None
    aims_before: list[int]
    units_before: list[int] | None
    progress: Progress
    learning_aim_ids: list[int]
    unit_summary_ids: list[int]

    @property
    def done(self) -> bool:
        return self.state == "done"


class Ledger(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def published(self, event_id: str) -> bytes | None:
        """The result body already published for this input event, if any."""

    async def assignment(self, learner_id: int, course_code: str) -> Assignment | None: ...

    async def assignments_of(self, learner_id: int) -> list[Assignment]:
        """Every assignment recorded for the learner, done or not, any course."""

    async def begin(
        self,
        learner_id: int,
        course_code: str,
        event_id: str,
        *,
        framework_template_id: int | None,
        aims_before: list[int],
        units_before: list[int] | None,
    ) -> Assignment:
        """Record (or take over) the intent; refuses to overwrite a completed assignment."""

    async def save_progress(
        self, learner_id: int, course_code: str, progress: Progress
    ) -> None: ...

    async def complete(
        self,
        learner_id: int,
        course_code: str,
        *,
        learning_aim_ids: list[int],
        unit_summary_ids: list[int],
    ) -> Assignment: ...

    async def record_call(self, wall_time: float) -> None:
        """Journal one Onefile call admitted at this Unix time (see CallJournal)."""

    async def calls_since(self, wall_time: float) -> list[float]:
        """Unix times of the journalled calls at or after ``wall_time``."""

    async def remember_published(self, event_id: str, body: bytes) -> bytes:
        """Store the result body for ``event_id`` unless one exists; return the stored one."""
