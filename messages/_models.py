"""The three messages of CONTRACT.md, as pydantic models.

``LearnerEnrolled`` is what producers send; ``ProgrammeAssigned`` and
``ProgrammeAssignmentFailed`` are what the worker publishes. All are strict (no
coercion: ``"42"`` is not a learner id, ``true`` is not 1) and ignore unknown fields, so
producers and consumers may add fields without breaking each other.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from ._fields import (
    CourseCode,
    EventId,
    FailureReason,
    LearnerId,
    Timestamp,
    UtcTimestamp,
    utc_now,
)
from ._ids import assigned_event_id, failed_event_id
from ._peek import peek_enrolment

__all__ = ["SCHEMA_VERSION", "LearnerEnrolled", "ProgrammeAssigned", "ProgrammeAssignmentFailed"]

# Semantic version of the message contract. CONTRACT.md changes only by adding, which
# bumps the minor version; the schemas' ``$id`` carries the major version alone.
SCHEMA_VERSION = "1.0.0"


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, as published."""
        return self.model_dump_json().encode()


class _OutputMessage(_Message):
    # Every field of a published event is always present, defaults included.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class LearnerEnrolled(_Message):
    """A learner was enrolled on a course: assign the course's Onefile programme to them.

    Published by enrolment producers to the "enrolment" exchange with routing key
    "learner.enrolled". Unknown extra fields are ignored.
    """

    event_id: EventId = Field(description="Idempotency key: redeliveries carry the same one.")
    event_type: Literal["learner.enrolled"]
    occurred_at: Timestamp = Field(description="When the enrolment happened (RFC 3339).")
    learner_id: LearnerId = Field(description="The learner's Onefile UserID.")
    course_code: CourseCode = Field(description="Looked up in the worker's course mapping.")
    start_date: date | None = Field(default=None, description="Planned start (YYYY-MM-DD).")
    planned_end_date: date | None = Field(default=None, description="Planned end (YYYY-MM-DD).")


class ProgrammeAssigned(_OutputMessage):
    """The course of one learner.enrolled event is assigned to the learner in Onefile.

    Published by the worker to the "programme" exchange with routing key
    "programme.assigned", once the assignment is durable.
    """

    event_id: EventId = Field(
        description="Deterministic from causation_id: a redelivery republishes the same id."
    )
    event_type: Literal["programme.assigned"] = "programme.assigned"
    occurred_at: UtcTimestamp = Field(
        default_factory=utc_now,
        validate_default=True,
        description="RFC 3339 in UTC with milliseconds, e.g. 2026-12-03T13:00:00.123Z.",
    )
    causation_id: EventId = Field(description="The event_id of the learner.enrolled event.")
    learner_id: LearnerId = Field(description="Copied from the enrolment.")
    course_code: CourseCode = Field(description="Copied from the enrolment.")
    framework_template_id: int | None = Field(
        description="The Onefile framework template assigned; null when assigned by "
        "standards and units."
    )
    learning_aim_ids: list[int] = Field(
        description="The LearningAims this assignment created (not the learner's older ones)."
    )
    unit_summary_ids: list[int] = Field(description="The UnitSummaries this assignment created.")
    already_assigned: bool = Field(
        description="True when an earlier event had already assigned this course to this "
        "learner: nothing was assigned again, and the ids are those recorded then."
    )

    @classmethod
    def for_enrolment(
        cls,
        enrolment: LearnerEnrolled,
        *,
        framework_template_id: int | None,
        learning_aim_ids: list[int],
        unit_summary_ids: list[int],
        already_assigned: bool,
        occurred_at: datetime | None = None,
    ) -> Self:
        """The result event for ``enrolment``, with its deterministic id.

        Occurred now by default.
        """
        when: dict[str, Any] = {} if occurred_at is None else {"occurred_at": occurred_at}
        return cls(
            event_id=assigned_event_id(enrolment.event_id),
            causation_id=enrolment.event_id,
            learner_id=enrolment.learner_id,
            course_code=enrolment.course_code,
            framework_template_id=framework_template_id,
            learning_aim_ids=learning_aim_ids,
            unit_summary_ids=unit_summary_ids,
            already_assigned=already_assigned,
            **when,
        )


class ProgrammeAssignmentFailed(_OutputMessage):
    """An enrolment was dead-lettered: its course was not assigned, and will not be unless
    the dead letter is replayed.

    Published by the worker to the "programme" exchange with routing key
    "programme.assignment_failed" on every dead-lettering.
    """

    event_id: EventId = Field(
        description="Deterministic from causation_id (or, when unreadable, from the body "
        "bytes): a redelivery republishes the same id."
    )
    event_type: Literal["programme.assignment_failed"] = "programme.assignment_failed"
    occurred_at: UtcTimestamp = Field(
        default_factory=utc_now,
        validate_default=True,
        description="RFC 3339 in UTC with milliseconds, e.g. 2026-12-03T13:00:00.123Z.",
    )
    causation_id: EventId | None = Field(
        description="The event_id of the failed message; null if unreadable."
    )
    learner_id: LearnerId | None = Field(description="From the failed message; null if unreadable.")
    course_code: CourseCode | None = Field(
        description="From the failed message; null if unreadable."
    )
    reason: FailureReason = Field(
        description="Why it was dead-lettered; the same as its x-failure-reason header."
    )
    detail: str = Field(description="One readable line; the same as x-failure-detail.")
    attempts: int = Field(ge=0, description="Delivery attempts made; the same as x-attempts.")

    @classmethod
    def for_body(
        cls,
        body: bytes,
        *,
        reason: FailureReason,
        detail: str,
        attempts: int,
        occurred_at: datetime | None = None,
    ) -> Self:
        """The failure event for a dead-lettered ``body``, valid or not.

        Identifying fields are salvaged with ``peek_enrolment``; the event id is
        deterministic. Occurred now by default.
        """
        peek = peek_enrolment(body)
        when: dict[str, Any] = {} if occurred_at is None else {"occurred_at": occurred_at}
        return cls(
            event_id=failed_event_id(peek["event_id"], body),
            causation_id=peek["event_id"],
            learner_id=peek["learner_id"],
            course_code=peek["course_code"],
            reason=reason,
            detail=detail,
            attempts=attempts,
            **when,
        )
