"""Best-effort salvage of identifying fields from an enrolment that failed validation."""

from __future__ import annotations

from typing import Any, TypedDict, TypeVar

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from ._fields import CourseCode, EventId, LearnerId

__all__ = ["EnrolmentPeek", "peek_enrolment"]

T = TypeVar("T")


class EnrolmentPeek(TypedDict):
    event_id: str | None
    learner_id: int | None
    course_code: str | None


_EVENT_ID: TypeAdapter[str] = TypeAdapter(EventId)
_LEARNER_ID: TypeAdapter[int] = TypeAdapter(LearnerId)
_COURSE_CODE: TypeAdapter[str] = TypeAdapter(CourseCode)


def peek_enrolment(body: bytes) -> EnrolmentPeek:
    """``event_id``, ``learner_id`` and ``course_code`` from ``body``, each None unless valid.

    A value is kept only when it would pass that field's own validation, so the result
    always fits ``programme.assignment_failed``. Never raises: it runs on the failure path.
    """
    try:
        document = pydantic_core.from_json(body)
    except ValueError:  # not JSON, not UTF-8, or nested too deep
        document = None
    if not isinstance(document, dict):
        document = {}
    return EnrolmentPeek(
        event_id=_valid_or_none(_EVENT_ID, document.get("event_id")),
        learner_id=_valid_or_none(_LEARNER_ID, document.get("learner_id")),
        course_code=_valid_or_none(_COURSE_CODE, document.get("course_code")),
    )


def _valid_or_none(adapter: TypeAdapter[T], value: Any) -> T | None:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
