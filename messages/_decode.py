"""Turning a delivery's body into a ``LearnerEnrolled``, or one readable line saying why not.

The line becomes ``x-failure-detail`` and the ``detail`` of ``programme.assignment_failed``,
so it names the field and the rule, and echoes at most ``ECHO_MAX_CHARS`` of any value:
never the whole body.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ._models import LearnerEnrolled

__all__ = ["ECHO_MAX_CHARS", "DecodeError", "decode_enrolment"]

ECHO_MAX_CHARS = 100

# One rule per field, phrased for the operator reading a dead letter.
FIELD_RULES: dict[str, str] = {
    "event_id": "must be a string of 1 to 200 characters",
    "event_type": 'must be "learner.enrolled"',
    "occurred_at": 'must be an RFC 3339 date-time with an offset, e.g. "2026-12-03T13:00:00Z"',
    "learner_id": "must be an integer greater than 0",
    "course_code": "must be a non-empty string",
    "start_date": "must be a date (YYYY-MM-DD) or null",
    "planned_end_date": "must be a date (YYYY-MM-DD) or null",
}


class DecodeError(ValueError):
    """The body is not a valid ``learner.enrolled``; ``detail`` says why in one line."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def decode_enrolment(body: bytes) -> LearnerEnrolled:
    """Validate ``body`` as a ``learner.enrolled`` event; raise ``DecodeError`` if it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("body is not valid UTF-8") from exc
    try:
        return LearnerEnrolled.model_validate_json(text)
    except ValidationError as exc:
        raise DecodeError(_describe(exc.errors(include_url=False))) from exc


def _describe(errors: list[ErrorDetails]) -> str:
    problems: dict[str, str] = {}
    for error in errors:
        if error["type"] == "json_invalid":
            return f"body is not JSON: {error.get('ctx', {}).get('error', error['msg'])}"
        if not error["loc"]:
            return f"body is not a JSON object (got {_json_type(error['input'])})"
        field = str(error["loc"][0])
        if field in problems:  # one line per field, the first error is enough
            continue
        if error["type"] == "missing":
            problems[field] = "missing"
        else:
            rule = FIELD_RULES.get(field, error["msg"])
            problems[field] = f"{rule}, got {_echo(error['input'])}"
    return "; ".join(f"{field}: {problem}" for field, problem in problems.items())


def _echo(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= ECHO_MAX_CHARS else text[:ECHO_MAX_CHARS] + "…"


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
