"""Builders for learner.enrolled bodies: valid by default, one field changed per test."""

from __future__ import annotations

import json
from typing import Any

DROP: Any = object()  # pass as a field's value to leave the field out

VALID_ENROLMENT: dict[str, Any] = {
    "event_id": "enr-0001",
    "event_type": "learner.enrolled",
    "occurred_at": "2026-12-03T13:00:00+01:00",
    "learner_id": 4242,
    "course_code": "ST0116-L4",
    "start_date": "2027-01-04",
    "planned_end_date": "2028-07-31",
}


def enrolment_body(**overrides: Any) -> bytes:
    document = {**VALID_ENROLMENT, **overrides}
    return json.dumps({key: value for key, value in document.items() if value is not DROP}).encode()
