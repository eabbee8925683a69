"""The packaged seed data and the seed loader's checks."""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
import yaml

from worker.sandbox.seed import SeedError, load_seed


@pytest.fixture(scope="module")
def seed():
    return load_seed()


def test_template_101_is_software_developer_with_its_standards_and_units(seed):
    template = seed.templates[101]
    assert (template.title, template.organisation_id, template.standard_ids) == (
        "Software Developer L4",
        1,
        (507, 508),
    )
    assert seed.standards[507].unit_ids == (9010, 9011)
    assert seed.standards[508].unit_ids == (9020, 9021)
    assert seed.standards[509].unit_ids == (9030,)
    assert seed.standards[510].unit_ids == (9040, 9041, 9042)


def test_standards_505_to_520_each_have_one_to_three_units_that_point_back(seed):
    assert set(range(505, 521)) <= set(seed.standards)
    for standard in seed.standards.values():
        assert 1 <= len(standard.unit_ids) <= 3
        assert all(seed.units[u].standard_id == standard.id for u in standard.unit_ids)


def test_learners_are_generated_with_deterministic_names_and_misids(seed):
    assert len([lid for lid in seed.learners if 1001 <= lid <= 3000]) == 2000
    learner = seed.learners[1500]
    assert (learner.misid, learner.organisation_id) == ("MIS1500", 1)
    assert load_seed().learners[1500] == learner


def test_every_third_learner_has_one_aim_on_505_and_most_have_none(seed):
    aims_per_learner = Counter(aim.learner_id for aim in seed.aims)

    assert all(aims_per_learner[lid] >= 1 for lid in range(1002, 3001, 3))
    assert [a.standard_id for a in seed.aims if a.learner_id == 1005] == [505]
    assert aims_per_learner[1001] == 0
    assert len(aims_per_learner) < len(seed.learners) / 2


def test_learner_1002_has_three_aims(seed):
    assert [a.standard_id for a in seed.aims if a.learner_id == 1002] == [505, 507, 508]


def write_seed(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(resources.files("worker.sandbox").joinpath("seed.yaml").read_text())
    mutate(raw)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_seed_file_can_replace_the_packaged_one(tmp_path):
    extra = {"first_id": 1, "count": 3, "organisation_id": 1}
    path = write_seed(tmp_path, lambda raw: raw["learners"].append(extra))

    assert 1 in load_seed(path).learners


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["framework_templates"][0]["standards"].append(4242), "unknown standard"),
        (lambda raw: raw["standards"][1]["units"].append({"id": 9001, "title": "x"}), "duplicate"),
        (lambda raw: raw["existing_aims"][0]["aims"][0]["units"].append(9010), "not in standard"),
        (lambda raw: raw.pop("standards"), "missing key 'standards'"),
    ],
    ids=["template-standard", "duplicate-unit", "aim-unit", "missing"],
)
def test_an_inconsistent_seed_file_is_one_readable_error(tmp_path, mutate, message):
    with pytest.raises(SeedError, match=message):
        load_seed(write_seed(tmp_path, mutate))


def test_a_missing_seed_file_is_a_seed_error(tmp_path):
    with pytest.raises(SeedError, match="cannot read"):
        load_seed(tmp_path / "absent.yaml")
