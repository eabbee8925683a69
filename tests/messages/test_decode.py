from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from messages import DecodeError, LearnerEnrolled, decode_enrolment
from messages._decode import ECHO_MAX_CHARS, FIELD_RULES

from .bodies import DROP, enrolment_body


def test_valid_body_decodes_to_learner_enrolled():
    enrolment = decode_enrolment(enrolment_body())

    assert enrolment == LearnerEnrolled(
        event_id="enr-0001",
        event_type="learner.enrolled",
        occurred_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        learner_id=4242,
        course_code="ST0116-L4",
        start_date=date(2027, 1, 4),
        planned_end_date=date(2028, 7, 31),
    )
    assert enrolment.occurred_at.utcoffset() == timedelta(hours=1)


def test_optional_dates_may_be_absent_or_null():
    absent = decode_enrolment(enrolment_body(start_date=DROP, planned_end_date=DROP))
    null = decode_enrolment(enrolment_body(start_date=None, planned_end_date=None))

    assert absent.start_date is absent.planned_end_date is None
    assert null.start_date is null.planned_end_date is None


def test_unknown_extra_fields_are_ignored():
    enrolment = decode_enrolment(enrolment_body(tenant="acme", nested={"a": [1]}))

    assert enrolment.course_code == "ST0116-L4"
    assert "tenant" not in enrolment.model_dump()


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-12-03T13:00:00Z", "2026-12-03t13:00:00.123456z", "2026-12-03T13:00:00.1-05:30"],
)
def test_rfc3339_date_times_with_an_offset_are_accepted(occurred_at):
    assert decode_enrolment(enrolment_body(occurred_at=occurred_at)).occurred_at.tzinfo


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("event_id", "", "event_id: must be a string of 1 to 200 characters"),
        ("event_id", "x" * 201, "event_id: must be a string of 1 to 200 characters"),
        ("event_id", 17, "event_id: must be a string of 1 to 200 characters"),
        ("event_type", "learner.unenrolled", 'event_type: must be "learner.enrolled"'),
        ("occurred_at", "2026-12-03", "occurred_at: must be an RFC 3339 date-time"),
        ("occurred_at", "2026-12-03T13:00:00+0100", "occurred_at: must be an RFC 3339"),
        ("occurred_at", "2026-12-03 13:00:00Z", "occurred_at: must be an RFC 3339"),
        ("occurred_at", "2026-02-30T13:00:00Z", "occurred_at: must be an RFC 3339"),
        ("learner_id", 0, "learner_id: must be an integer greater than 0"),
        ("learner_id", -3, "learner_id: must be an integer greater than 0"),
        ("learner_id", "4242", "learner_id: must be an integer greater than 0"),
        ("learner_id", 4242.0, "learner_id: must be an integer greater than 0"),
        ("course_code", "", "course_code: must be a non-empty string"),
        ("course_code", 116, "course_code: must be a non-empty string"),
        ("start_date", "04/01/2027", "start_date: must be a date (YYYY-MM-DD)"),
        ("start_date", "2027-01-04T00:00:00", "start_date: must be a date (YYYY-MM-DD)"),
        ("planned_end_date", 1830297600, "planned_end_date: must be a date (YYYY-MM-DD)"),
    ],
)
def test_invalid_field_is_named_with_its_rule(field, value, expected):
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(enrolment_body(**{field: value}))

    assert caught.value.detail.startswith(expected)


def test_bool_learner_id_is_rejected_not_read_as_1():
    with pytest.raises(DecodeError, match="learner_id: must be an integer greater than 0"):
        decode_enrolment(enrolment_body(learner_id=True))


def test_whitespace_only_course_code_is_rejected():
    with pytest.raises(DecodeError, match="course_code: must be a non-empty string"):
        decode_enrolment(enrolment_body(course_code=" \t "))


def test_naive_occurred_at_is_rejected():
    with pytest.raises(DecodeError, match="occurred_at: must be an RFC 3339 date-time"):
        decode_enrolment(enrolment_body(occurred_at="2026-12-03T13:00:00"))


@pytest.mark.parametrize("timestamp", [1795000000, 1795000000.5, "1795000000"])
def test_unix_timestamp_occurred_at_is_rejected(timestamp):
    with pytest.raises(DecodeError, match="occurred_at: must be an RFC 3339 date-time"):
        decode_enrolment(enrolment_body(occurred_at=timestamp))


def test_missing_field_is_reported_as_missing():
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(enrolment_body(occurred_at=DROP))

    assert caught.value.detail == "occurred_at: missing"


def test_several_problems_are_joined_in_one_line():
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(enrolment_body(event_type="x", learner_id=0, course_code=DROP))

    assert caught.value.detail == (
        'event_type: must be "learner.enrolled", got "x"; '
        "learner_id: must be an integer greater than 0, got 0; "
        "course_code: missing"
    )


def test_echoed_value_is_capped_and_never_the_whole_body():
    huge = "a" * 10_000 + "\nsecret-tail"
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(enrolment_body(course_code=["x"], event_id=huge))

    detail = caught.value.detail
    assert len(detail) < 2 * ECHO_MAX_CHARS + 200
    assert "secret-tail" not in detail
    assert "\n" not in detail


def test_non_utf8_body_is_rejected():
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(b'{"event_id": "\xff\xfe"}')

    assert caught.value.detail == "body is not valid UTF-8"


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"event_id": "e1",}'])
def test_non_json_body_is_rejected(body):
    with pytest.raises(DecodeError, match=r"^body is not JSON: "):
        decode_enrolment(body)


@pytest.mark.parametrize(
    ("body", "json_type"),
    [(b"[1, 2]", "array"), (b'"text"', "string"), (b"42", "number"), (b"null", "null")],
)
def test_non_object_body_is_rejected_naming_its_type(body, json_type):
    with pytest.raises(DecodeError) as caught:
        decode_enrolment(body)

    assert caught.value.detail == f"body is not a JSON object (got {json_type})"


def test_decode_error_is_a_value_error_whose_text_is_the_detail():
    with pytest.raises(ValueError, match="body is not valid UTF-8") as caught:
        decode_enrolment(b"\x80")

    assert str(caught.value) == caught.value.detail


def test_every_enrolment_field_has_a_readable_rule():
    assert set(FIELD_RULES) == set(LearnerEnrolled.model_fields)


def test_offsets_other_than_utc_are_kept_on_input():
    enrolment = decode_enrolment(enrolment_body(occurred_at="2026-12-03T13:00:00-05:30"))

    assert enrolment.occurred_at.utcoffset() == -timedelta(hours=5, minutes=30)
