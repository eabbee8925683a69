from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from messages import (
    LearnerEnrolled,
    ProgrammeAssigned,
    ProgrammeAssignmentFailed,
    assigned_event_id,
    decode_enrolment,
    failed_event_id,
)

from .bodies import enrolment_body

Z_MILLISECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def assigned() -> ProgrammeAssigned:
    return ProgrammeAssigned.for_enrolment(
        decode_enrolment(enrolment_body()),
        framework_template_id=101,
        learning_aim_ids=[5001, 5002],
        unit_summary_ids=[],
        already_assigned=False,
        occurred_at=datetime(2026, 12, 3, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
    )


def test_for_enrolment_copies_the_enrolment_and_derives_the_event_id(assigned):
    assert assigned.event_type == "programme.assigned"
    assert assigned.causation_id == "enr-0001"
    assert assigned.event_id == assigned_event_id("enr-0001")
    assert (assigned.learner_id, assigned.course_code) == (4242, "ST0116-L4")


def test_to_bytes_is_compact_utf8_json_with_every_field(assigned):
    body = assigned.to_bytes()

    assert b" " not in body
    assert json.loads(body.decode("utf-8")) == {
        "event_id": assigned_event_id("enr-0001"),
        "event_type": "programme.assigned",
        "occurred_at": "2026-12-03T13:00:00.123Z",
        "causation_id": "enr-0001",
        "learner_id": 4242,
        "course_code": "ST0116-L4",
        "framework_template_id": 101,
        "learning_aim_ids": [5001, 5002],
        "unit_summary_ids": [],
        "already_assigned": False,
    }


def test_to_bytes_keeps_non_ascii_as_utf8():
    failed = ProgrammeAssignmentFailed.for_body(
        b"{}", reason="invalid_message", detail="café: missing", attempts=1
    )

    assert "café".encode() in failed.to_bytes()


def test_to_bytes_round_trips(assigned):
    assert ProgrammeAssigned.model_validate_json(assigned.to_bytes()) == assigned


def test_occurred_at_defaults_to_now_in_utc_milliseconds_with_z():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    failed = ProgrammeAssignmentFailed.for_body(
        b"x", reason="invalid_message", detail="d", attempts=1
    )

    published = json.loads(failed.to_bytes())["occurred_at"]
    assert Z_MILLISECONDS.match(published)
    assert before <= datetime.fromisoformat(published) <= datetime.now(UTC)


def test_output_rejects_a_naive_occurred_at(assigned):
    with pytest.raises(ValidationError, match="timezone"):
        ProgrammeAssigned.model_validate(
            {**assigned.model_dump(), "occurred_at": datetime(2026, 12, 3)}  # naive on purpose
        )


def test_enrolment_built_in_python_also_rejects_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone"):
        LearnerEnrolled(
            event_id="e",
            event_type="learner.enrolled",
            occurred_at=datetime(2026, 12, 3, 13, 0),  # naive on purpose
            learner_id=1,
            course_code="C",
        )


def test_for_body_salvages_what_it_can_from_an_invalid_enrolment():
    body = b'{"event_id": "enr-9", "learner_id": "seven", "course_code": "NOPE"}'

    failed = ProgrammeAssignmentFailed.for_body(
        body, reason="unmapped_course", detail="no mapping", attempts=1
    )

    assert (failed.causation_id, failed.learner_id, failed.course_code) == ("enr-9", None, "NOPE")
    assert failed.event_id == failed_event_id("enr-9", body)


def test_for_body_of_garbage_has_null_identity_and_a_body_derived_id():
    failed = ProgrammeAssignmentFailed.for_body(
        b"\xff garbage", reason="invalid_message", detail="body is not valid UTF-8", attempts=1
    )

    assert (failed.causation_id, failed.learner_id, failed.course_code) == (None, None, None)
    assert failed.event_id == failed_event_id(None, b"\xff garbage")


def test_failed_event_rejects_an_unknown_reason():
    with pytest.raises(ValidationError, match="reason"):
        ProgrammeAssignmentFailed.for_body(b"{}", reason="bored", detail="", attempts=1)  # type: ignore[arg-type]


def test_messages_are_immutable(assigned):
    with pytest.raises(ValidationError, match="frozen"):
        assigned.already_assigned = True  # type: ignore[misc]
