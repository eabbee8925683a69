"""Load and check the sandbox seed file (format documented at the top of ``seed.yaml``).

The loader turns YAML into frozen dataclasses and rejects inconsistent data (duplicate IDs,
templates naming unknown standards, seeded aims naming units of another standard) with one
readable :class:`SeedError`, so a bad ``--seed-file`` fails at start-up rather than mid-test.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_STATUS = "Active"
DEFAULT_START_DATE = "2023-09-01T08:00:00.000Z"


class SeedError(ValueError):
    """The seed file cannot be read or is inconsistent."""


@dataclass(frozen=True)
class Unit:
    id: int
    title: str
    standard_id: int


@dataclass(frozen=True)
class Standard:
    id: int
    title: str
    organisation_id: int
    unit_ids: tuple[int, ...]


@dataclass(frozen=True)
class Template:
    id: int
    title: str
    organisation_id: int
    standard_ids: tuple[int, ...]


@dataclass(frozen=True)
class Learner:
    id: int
    first_name: str
    last_name: str
    misid: str
    organisation_id: int


@dataclass(frozen=True)
class SeedAim:
    learner_id: int
    standard_id: int
    unit_ids: tuple[int, ...]
    status: str
    start_date: str


@dataclass(frozen=True)
class IdStarts:
    seeded_aims: int = 20001
    seeded_unit_summaries: int = 30001
    new_aims: int = 50000
    new_unit_summaries: int = 80000


@dataclass(frozen=True)
class Seed:
    organisations: dict[int, str]
    standards: dict[int, Standard]
    units: dict[int, Unit]
    templates: dict[int, Template]
    learners: dict[int, Learner]
    aims: tuple[SeedAim, ...]
    ids: IdStarts


def load_seed(path: str | Path | None = None) -> Seed:
    """Load ``path``, or the packaged ``seed.yaml`` when ``path`` is None."""
    try:
        if path is None:
            text = resources.files("worker.sandbox").joinpath("seed.yaml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SeedError("seed file must be a YAML mapping")
    try:
        return parse_seed(raw)
    except SeedError:
        raise
    except KeyError as exc:
        raise SeedError(f"invalid seed file: missing key {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise SeedError(f"invalid seed file: {exc}") from exc


def parse_seed(raw: dict[str, Any]) -> Seed:
    organisations = _unique(
        "organisation", ((int(o["id"]), str(o["name"])) for o in raw["organisations"])
    )
    standards: dict[int, Standard] = {}
    units: dict[int, Unit] = {}
    for s in raw["standards"]:
        sid = _id(s["id"], "standard")
        _no_duplicate("standard", sid, standards)
        org = _known("organisation", int(s["organisation_id"]), organisations)
        unit_ids = []
        for u in s.get("units") or []:
            uid = _id(u["id"], "unit")
            _no_duplicate("unit", uid, units)
            units[uid] = Unit(uid, str(u["title"]), sid)
            unit_ids.append(uid)
        standards[sid] = Standard(sid, str(s["title"]), org, tuple(unit_ids))
    templates: dict[int, Template] = {}
    for t in raw["framework_templates"]:
        tid = _id(t["id"], "framework template")
        _no_duplicate("framework template", tid, templates)
        org = _known("organisation", int(t["organisation_id"]), organisations)
        sids = tuple(_known("standard", int(x), standards) for x in t["standards"])
        templates[tid] = Template(tid, str(t["title"]), org, sids)
    learners = _learners(raw, organisations)
    aims = tuple(_aims(raw.get("existing_aims") or [], learners, standards, units))
    ids = IdStarts(**{k: int(v) for k, v in (raw.get("ids") or {}).items()})
    return Seed(organisations, standards, units, templates, learners, aims, ids)


def _learners(raw: dict[str, Any], organisations: dict[int, str]) -> dict[int, Learner]:
    firsts = [str(n) for n in raw["first_names"]]
    lasts = [str(n) for n in raw["last_names"]]
    if not firsts or not lasts:
        raise SeedError("first_names and last_names must not be empty")
    misid_format = str(raw.get("misid_format", "MIS{id}"))
    learners: dict[int, Learner] = {}
    for block in raw["learners"]:
        org = _known("organisation", int(block["organisation_id"]), organisations)
        first_id = _id(block["first_id"], "learner")
        for lid in range(first_id, first_id + int(block["count"])):
            _no_duplicate("learner", lid, learners)
            first = firsts[lid % len(firsts)]
            last = lasts[(lid // len(firsts)) % len(lasts)]
            learners[lid] = Learner(lid, first, last, misid_format.format(id=lid), org)
    return learners


def _aims(
    rules: list[dict[str, Any]],
    learners: dict[int, Learner],
    standards: dict[int, Standard],
    units: dict[int, Unit],
) -> list[SeedAim]:
    aims = []
    for rule in rules:
        selector = rule["learners"]
        if isinstance(selector, dict):
            every = int(selector["every"])
            if every < 1:
                raise SeedError("existing_aims: every must be at least 1")
            chosen = [lid for lid in sorted(learners) if lid % every == 0]
        else:
            chosen = [_known("learner", int(lid), learners) for lid in selector]
        templates = []
        for aim in rule["aims"]:
            sid = _known("standard", int(aim["standard_id"]), standards)
            unit_ids = tuple(_known("unit", int(u), units) for u in aim.get("units") or [])
            for uid in unit_ids:
                if units[uid].standard_id != sid:
                    raise SeedError(f"existing_aims: unit {uid} is not in standard {sid}")
            status = str(aim.get("status", DEFAULT_STATUS))
            start = str(aim.get("start_date", DEFAULT_START_DATE))
            templates.append((sid, unit_ids, status, start))
        for lid in chosen:
            aims.extend(SeedAim(lid, *t) for t in templates)
    return aims


def _id(value: Any, kind: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeedError(f"{kind} id must be a positive integer, got {value!r}")
    return value


def _no_duplicate(kind: str, key: int, seen: dict[int, Any]) -> None:
    if key in seen:
        raise SeedError(f"duplicate {kind} id {key}")


def _known(kind: str, key: int, known: dict[int, Any]) -> int:
    if key not in known:
        raise SeedError(f"unknown {kind} id {key}")
    return key


def _unique(kind: str, pairs: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    for key, value in pairs:
        _no_duplicate(kind, key, out)
        out[key] = value
    return out
