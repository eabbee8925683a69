"""The course-code mapping file: which Onefile template or standards plan a course means.

Validated whole at start-up; a bad file raises ``MappingError`` with one line naming the
file, the course and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["CoursePlan", "Mapping", "MappingError", "StandardPlan", "load_mapping", "parse_mapping"]

PositiveId = Annotated[int, Field(strict=True, gt=0)]
UnitId = PositiveId | Annotated[str, Field(min_length=1)]


class MappingError(Exception):
    """The mapping file cannot be used; the text is one line naming the problem."""


class StandardPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PositiveId
    units: tuple[UnitId, ...] = ()


class CoursePlan(BaseModel):
    """Either a framework template or a plan of individual standards and units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    framework_template_id: PositiveId | None = None
    only_change_assigned: bool = False
    standards: tuple[StandardPlan, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> CoursePlan:
        if (self.framework_template_id is None) == (self.standards is None):
            raise ValueError("give either framework_template_id or standards, not both or neither")
        if self.standards is not None:
            if not self.standards:
                raise ValueError("standards must not be empty")
            if self.only_change_assigned:
                raise ValueError("only_change_assigned applies to framework templates only")
            ids = [s.id for s in self.standards]
            if len(ids) != len(set(ids)):
                raise ValueError("a standard is listed twice")
        return self

    @property
    def is_template(self) -> bool:
        return self.framework_template_id is not None


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    courses: dict[str, CoursePlan]

    def plan_for(self, course_code: str) -> CoursePlan | None:
        return self.courses.get(course_code)


def _describe(err: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    where = ""
    if len(loc) >= 2 and loc[0] == "courses":
        where = f"course {loc[1]!r}"
        rest = [p for p in loc[2:] if not p.startswith(("function-", "int", "str", "constrained"))]
        if rest:
            where += f" field {'.'.join(rest)}"
        where += ": "
    elif loc:
        where = f"{'.'.join(loc)}: "
    return where + err["msg"].removeprefix("Value error, ")


def parse_mapping(data: object, source: str = "mapping") -> Mapping:
    if not isinstance(data, dict) or "courses" not in data:
        raise MappingError(f"{source}: expected a top-level 'courses:' map")
    if not isinstance(data["courses"], dict) or not data["courses"]:
        raise MappingError(f"{source}: 'courses' must be a non-empty map of course codes")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"{source}: {_describe(exc.errors()[0])}") from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate the mapping file; raise ``MappingError`` (one line) on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"MAPPING_FILE {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"MAPPING_FILE {path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise MappingError(f"MAPPING_FILE {path}: not valid YAML{at}") from None
    return parse_mapping(data, f"MAPPING_FILE {path}")
