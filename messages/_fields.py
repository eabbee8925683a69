"""Field types shared by the message models, constrained exactly as CONTRACT.md says.

Each type validates one field the same way wherever it appears: in the models, and in
``peek_enrolment`` which salvages what it can from a body that failed validation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "RFC3339_PATTERN",
    "CourseCode",
    "EventId",
    "FailureReason",
    "LearnerId",
    "Timestamp",
    "UtcTimestamp",
    "utc_now",
]

# RFC 3339 section 5.6 ``date-time``: an offset is required. pydantic's own parser alone
# would also take "1700000000", "+0100" or a missing seconds field, which the contract
# does not allow. The digits are spelled [0-9] because \d matches any Unicode digit.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)

FailureReason = Literal[
    "invalid_message", "unmapped_course", "onefile_rejected", "retries_exhausted"
]

EventId = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=200)]

LearnerId = Annotated[int, Strict(), Field(gt=0)]

# Unanchored, as in JSON Schema: "contains a character that is not whitespace".
CourseCode = Annotated[str, Strict(), StringConstraints(min_length=1, pattern=r"\S")]


def _rfc3339_text_or_datetime(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise PydanticCustomError(
        "rfc3339_date_time", "Input should be an RFC 3339 date-time with a UTC offset"
    )


def _to_utc_milliseconds(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _format_utc_milliseconds(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Lax inside, so that an RFC 3339 string that passed the check above is parsed in JSON
# and Python mode alike; everything else (numbers, naive datetimes) is already refused.
Timestamp = Annotated[
    AwareDatetime,
    Strict(False),
    BeforeValidator(_rfc3339_text_or_datetime),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]

# What the worker publishes: always UTC, millisecond precision, e.g. 2026-12-03T13:00:00.123Z.
# Truncating on validation keeps ``Model.model_validate_json(m.to_bytes()) == m``.
UtcTimestamp = Annotated[
    Timestamp,
    AfterValidator(_to_utc_milliseconds),
    PlainSerializer(_format_utc_milliseconds, return_type=str, when_used="json"),
]


def utc_now() -> datetime:
    return datetime.now(UTC)
