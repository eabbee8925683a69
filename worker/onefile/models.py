"""What the Onefile API answers, as typed records.

Onefile speaks PascalCase (``ID``, ``StandardID``, ``MISID``); the worker reads snake_case.
Every model keeps unknown fields (``extra="allow"``) because the API adds fields without
notice, and reads IDs leniently: a numeric string becomes an ``int`` where the field is an
integer, and a Unit ID, seen as a string in some client test data, stays a string only when
it is not numeric.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "FrameworkTemplate",
    "LearningAim",
    "OnefileRecord",
    "Standard",
    "Unit",
    "UnitSummary",
    "User",
]


def _int_if_numeric(value: Any) -> Any:
    """Turn ``"9010"`` into ``9010``; leave ``"U-9010"`` (and everything else) alone."""
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return value


def _str_if_number(value: Any) -> Any:
    """An MIS ID is text, but some systems send digits as a JSON number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


LenientId = Annotated[int | str, BeforeValidator(_int_if_numeric)]
LenientText = Annotated[str | None, BeforeValidator(_str_if_number)]


class OnefileRecord(BaseModel):
    """Base of every Onefile record: aliases in, snake_case out, extra fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class FrameworkTemplate(OnefileRecord):
    """A framework template: assigning one creates a learner's aims and unit summaries."""

    id: int = Field(alias="ID")
    title: str | None = Field(default=None, alias="Title")


class Standard(OnefileRecord):
    """An apprenticeship standard; assigning one creates a Learning Aim."""

    id: int = Field(alias="ID")
    title: str | None = Field(default=None, alias="Title")


class Unit(OnefileRecord):
    """A unit of a standard; its ID may be a non-numeric string."""

    id: LenientId = Field(alias="ID")
    title: str | None = Field(default=None, alias="Title")
    standard_id: int | None = Field(default=None, alias="StandardID")


class LearningAim(OnefileRecord):
    """One of a learner's Learning Aims (a standard assigned to them)."""

    id: int = Field(alias="ID")
    standard_id: int | None = Field(default=None, alias="StandardID")
    user_id: int | None = Field(default=None, alias="UserID")
    status: str | int | None = Field(default=None, alias="Status")


class UnitSummary(OnefileRecord):
    """One of a learner's Unit Summaries (a unit assigned under a Learning Aim)."""

    id: int = Field(alias="ID")
    unit_id: LenientId | None = Field(default=None, alias="UnitID")
    learning_aim_id: int | None = Field(default=None, alias="LearningAimID")
    standard_id: int | None = Field(default=None, alias="StandardID")


class User(OnefileRecord):
    """A Onefile user (learners are users)."""

    id: int = Field(alias="ID")
    first_name: str | None = Field(default=None, alias="FirstName")
    last_name: str | None = Field(default=None, alias="LastName")
    mis_id: LenientText = Field(default=None, alias="MISID")
