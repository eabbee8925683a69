"""The mapping file: both forms load; a bad file names the course and the problem."""

from __future__ import annotations

import pytest

from worker.mapping import MappingError, load_mapping, parse_mapping


def test_both_forms_load():
    mapping = parse_mapping({"courses": {
        "ST0116-L4": {"framework_template_id": 101, "only_change_assigned": True},
        "TL-CUSTOM": {"standards": [{"id": 507, "units": [9010, "U-11"]}]},
    }})
    assert mapping.plan_for("ST0116-L4").framework_template_id == 101
    assert mapping.plan_for("ST0116-L4").only_change_assigned is True
    assert mapping.plan_for("TL-CUSTOM").standards[0].units == (9010, "U-11")
    assert mapping.plan_for("NOPE") is None


def test_only_change_assigned_defaults_to_false():
    mapping = parse_mapping({"courses": {"A": {"framework_template_id": 1}}})
    assert mapping.plan_for("A").only_change_assigned is False


@pytest.mark.parametrize(("course", "expected"), [
    ({"framework_template_id": 0}, "course 'X' field framework_template_id"),
    ({"framework_template_id": "101"}, "course 'X' field framework_template_id"),
    ({}, "course 'X': give either framework_template_id or standards"),
    ({"framework_template_id": 1, "standards": [{"id": 2}]}, "course 'X': give either"),
    ({"standards": []}, "course 'X': standards must not be empty"),
    ({"standards": [{"id": 2}, {"id": 2}]}, "course 'X': a standard is listed twice"),
    ({"standards": [{"id": 2, "unit": [1]}]}, "course 'X' field standards.0.unit"),
    ({"framework_template_id": 1, "typo": True}, "course 'X' field typo"),
])
def test_a_bad_course_is_named_with_its_problem(course, expected):
    with pytest.raises(MappingError) as info:
        parse_mapping({"courses": {"X": course}})
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_missing_file_and_bad_yaml_are_one_line(tmp_path):
    with pytest.raises(MappingError, match="no such file"):
        load_mapping(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("courses: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML at line"):
        load_mapping(bad)


def test_a_file_without_courses_is_refused():
    with pytest.raises(MappingError, match="'courses:'"):
        parse_mapping({"programmes": {}})
