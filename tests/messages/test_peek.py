from __future__ import annotations

import pytest

from messages import peek_enrolment

NOTHING = {"event_id": None, "learner_id": None, "course_code": None}


def test_peek_reads_the_identifying_fields_of_an_otherwise_invalid_body():
    body = b'{"event_id": "e1", "learner_id": 7, "course_code": "C1", "occurred_at": 3}'

    assert peek_enrolment(body) == {"event_id": "e1", "learner_id": 7, "course_code": "C1"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe\x00",
        b"{",
        b"garbage",
        b"null",
        b"[1, 2, 3]",
        b'"learner_id"',
        b"[" * 100_000,
        b'{"event_id": "\xff"}',
    ],
)
def test_peek_on_garbage_returns_nothing_and_never_raises(body):
    assert peek_enrolment(body) == NOTHING


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_id": 5, "learner_id": "7", "course_code": ["C1"]}',
        b'{"event_id": "", "learner_id": true, "course_code": "   "}',
        b'{"event_id": null, "learner_id": 0, "course_code": null}',
        b'{"learner_id": 7.0}',
    ],
)
def test_peek_keeps_only_values_of_the_right_type(body):
    assert peek_enrolment(body) == NOTHING


def test_peek_drops_an_event_id_too_long_to_be_a_causation_id():
    body = b'{"event_id": "' + b"x" * 201 + b'", "learner_id": 3}'

    assert peek_enrolment(body) == {"event_id": None, "learner_id": 3, "course_code": None}
