"""The Onefile records: PascalCase aliases, lenient IDs, unknown fields kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.onefile import FrameworkTemplate, LearningAim, Standard, Unit, UnitSummary, User


def test_framework_template_reads_pascal_case_and_keeps_unknown_fields() -> None:
    template = FrameworkTemplate.model_validate({"ID": 101, "Title": "L4", "Organisation": 7})
    assert (template.id, template.title) == (101, "L4")
    assert template.model_extra == {"Organisation": 7}


def test_numeric_string_ids_become_integers() -> None:
    aim = LearningAim.model_validate({"ID": "42", "StandardID": "505", "UserID": "1001"})
    assert (aim.id, aim.standard_id, aim.user_id) == (42, 505, 1001)


def test_numeric_unit_id_string_becomes_integer() -> None:
    assert Unit.model_validate({"ID": "9010", "StandardID": 507}).id == 9010


def test_non_numeric_unit_id_stays_a_string() -> None:
    unit = Unit.model_validate({"ID": "U-9010"})
    assert unit.id == "U-9010"
    assert unit.standard_id is None


def test_unit_summary_reads_unit_aim_and_standard_ids() -> None:
    summary = UnitSummary.model_validate(
        {"ID": 1, "UnitID": "9011", "LearningAimID": 5, "StandardID": 507})
    assert (summary.unit_id, summary.learning_aim_id, summary.standard_id) == (9011, 5, 507)


def test_learning_aim_status_may_be_text_or_number() -> None:
    assert LearningAim.model_validate({"ID": 1, "Status": "Active"}).status == "Active"
    assert LearningAim.model_validate({"ID": 1, "Status": 2}).status == 2


def test_user_reads_misid_alias_and_numeric_misid_as_text() -> None:
    user = User.model_validate({"ID": 1001, "FirstName": "Ada", "LastName": "L", "MISID": 77})
    assert (user.first_name, user.last_name, user.mis_id) == ("Ada", "L", "77")


def test_models_accept_snake_case_names_too() -> None:
    assert Standard(id=505, title="Standard").title == "Standard"
    assert User(id=1, mis_id="A1").mis_id == "A1"


def test_a_record_without_an_id_is_invalid() -> None:
    with pytest.raises(ValidationError):
        Standard.model_validate({"Title": "no id"})
