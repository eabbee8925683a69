"""What each simulated endpoint does to the sandbox's data (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.sandbox.seed import load_seed
from worker.sandbox.state import Invalid, NotFound, State, iso_utc, page

FIXED_NOW = datetime(2025, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)
NO_AIMS = 1001  # 1001 % 3 != 0 and no explicit aims in the seed
ONE_505_AIM = 1005  # every learner whose id % 3 == 0 has one aim on standard 505


@pytest.fixture(scope="module")
def seed():
    return load_seed()


@pytest.fixture
def state(seed) -> State:
    return State(seed, now=lambda: FIXED_NOW)


def aims(state: State, user_id: int) -> list[dict]:
    return state.search_aims(user_id, 1, 1000)


def summaries(state: State, user_id: int) -> list[dict]:
    return state.search_unit_summaries(user_id, 1, 1000)


def test_dates_are_iso_utc_with_milliseconds_and_z():
    assert iso_utc(FIXED_NOW) == "2025-03-04T05:06:07.891Z"


def test_template_assign_creates_one_aim_per_standard_and_one_summary_per_unit(state):
    state.assign_template(101, NO_AIMS, only_change_assigned=False)

    created = aims(state, NO_AIMS)
    assert [(a["StandardID"], a["UserID"], a["Status"]) for a in created] == [
        (507, NO_AIMS, "Active"),
        (508, NO_AIMS, "Active"),
    ]
    assert all(a["StartDate"] == "2025-03-04T05:06:07.891Z" for a in created)
    by_standard = {a["StandardID"]: a["ID"] for a in created}
    assert [
        (s["UnitID"], s["StandardID"], s["LearningAimID"]) for s in summaries(state, NO_AIMS)
    ] == [
        (9010, 507, by_standard[507]),
        (9011, 507, by_standard[507]),
        (9020, 508, by_standard[508]),
        (9021, 508, by_standard[508]),
    ]


def test_new_ids_come_from_counters_above_the_seeded_ones(state, seed):
    state.assign_template(102, NO_AIMS, only_change_assigned=False)

    assert aims(state, NO_AIMS)[0]["ID"] == seed.ids.new_aims
    assert summaries(state, NO_AIMS)[0]["ID"] == seed.ids.new_unit_summaries


def test_template_override_replaces_aims_of_the_templates_standards_only(state):
    before = aims(state, 1002)  # 505, 507 (unit 9010) and 508
    state.assign_template(101, 1002, only_change_assigned=False)

    after = aims(state, 1002)
    assert [a["StandardID"] for a in after] == [505, 507, 508]
    assert after[0] == before[0]
    assert {a["ID"] for a in after[1:]}.isdisjoint({a["ID"] for a in before})
    assert sorted(s["UnitID"] for s in summaries(state, 1002)) == [9001, 9010, 9011, 9020, 9021]


def test_template_override_twice_leaves_one_set_of_aims(state):
    state.assign_template(101, NO_AIMS, only_change_assigned=False)
    state.assign_template(101, NO_AIMS, only_change_assigned=False)

    assert [a["StandardID"] for a in aims(state, NO_AIMS)] == [507, 508]
    assert len(summaries(state, NO_AIMS)) == 4
    assert state.assignment_stats()["assignments"] == [
        {"learner_id": NO_AIMS, "template_id": 101, "count": 2, "only_change_count": 0}
    ]


def test_only_change_assigned_creates_nothing_for_a_learner_without_those_aims(state):
    state.assign_template(101, NO_AIMS, only_change_assigned=True)

    assert aims(state, NO_AIMS) == []
    assert state.assignment_stats()["assignments"] == [
        {"learner_id": NO_AIMS, "template_id": 101, "count": 0, "only_change_count": 1}
    ]


def test_only_change_assigned_bumps_existing_aims_and_keeps_their_ids(state):
    before = aims(state, ONE_505_AIM)
    state.assign_template(107, ONE_505_AIM, only_change_assigned=True)  # 107 = 518 + 505

    assert aims(state, ONE_505_AIM) == before
    view = state.learner_view(ONE_505_AIM)["learning_aims"]
    assert [(a["Version"], a["Updated"]) for a in view] == [(2, "2025-03-04T05:06:07.891Z")]


@pytest.mark.parametrize(
    ("template_id", "user_id"), [(999, NO_AIMS), (101, 999_999)], ids=["template", "user"]
)
def test_template_assign_of_unknown_template_or_user_is_not_found(state, template_id, user_id):
    with pytest.raises(NotFound):
        state.assign_template(template_id, user_id, only_change_assigned=False)
    assert state.assignment_stats()["assignments"] == []


def test_standard_assign_returns_a_new_aim_without_unit_summaries(state):
    aim_id = state.assign_standard(509, NO_AIMS)

    assert [(a["ID"], a["StandardID"]) for a in aims(state, NO_AIMS)] == [(aim_id, 509)]
    assert summaries(state, NO_AIMS) == []
    assert state.assignment_stats()["standard_assignments"] == [
        {"learner_id": NO_AIMS, "standard_id": 509, "count": 1}
    ]


def test_standard_assign_keeps_existing_aims_of_the_same_standard(state):
    state.assign_standard(505, ONE_505_AIM)

    assert [a["StandardID"] for a in aims(state, ONE_505_AIM)] == [505, 505]


def test_unit_assign_attaches_to_the_newest_aim_of_the_standard(state):
    newer = aims(state, 1004)[-1]["ID"]  # 1004 has two aims on 509
    summary_id = state.assign_unit(9030, 1004, 509)

    created = [s for s in summaries(state, 1004) if s["ID"] == summary_id]
    assert created == [
        {
            "ID": summary_id,
            "UnitID": 9030,
            "LearningAimID": newer,
            "StandardID": 509,
            "UserID": 1004,
        }
    ]
    assert state.assignment_stats()["unit_assignments"] == [
        {"learner_id": 1004, "unit_id": 9030, "standard_id": 509, "count": 1}
    ]


def test_unit_assign_without_an_aim_for_the_standard_is_invalid(state):
    with pytest.raises(Invalid, match="no learning aim"):
        state.assign_unit(9010, NO_AIMS, 507)


def test_unit_assign_of_a_unit_outside_the_standard_is_invalid(state):
    state.assign_standard(507, NO_AIMS)
    with pytest.raises(Invalid, match="not part of standard"):
        state.assign_unit(9020, NO_AIMS, 507)


@pytest.mark.parametrize(
    ("unit_id", "user_id", "standard_id"),
    [(1, NO_AIMS, 507), (9010, 999_999, 507), (9010, NO_AIMS, 999)],
    ids=["unit", "user", "standard"],
)
def test_unit_assign_naming_unknown_things_is_not_found(state, unit_id, user_id, standard_id):
    with pytest.raises(NotFound):
        state.assign_unit(unit_id, user_id, standard_id)


def test_standard_assign_of_unknown_standard_is_not_found(state):
    with pytest.raises(NotFound):
        state.assign_standard(999, NO_AIMS)


def test_paging_is_one_based_and_past_the_end_is_empty():
    items = list(range(10))
    assert page(items, 1, 4) == [0, 1, 2, 3]
    assert page(items, 3, 4) == [8, 9]
    assert page(items, 4, 4) == []


@pytest.mark.parametrize(("number", "size"), [(0, 10), (1, 0), (1, 1001), (-1, 5)])
def test_paging_outside_its_bounds_is_invalid(number, size):
    with pytest.raises(Invalid):
        page([1, 2, 3], number, size)


def test_user_search_pages_learners_in_id_order(state):
    second = state.search_users(2, 3, organisation_id=1)
    assert [u["ID"] for u in second] == [1004, 1005, 1006]
    assert second[0] == {
        "ID": 1004,
        "FirstName": "Dev",  # first_names[1004 % 13]
        "LastName": "Adams",  # last_names[(1004 // 13) % 11]
        "MISID": "MIS1004",
        "OrganisationID": 1,
    }


def test_user_search_by_misid_is_exact_and_case_insensitive(state):
    assert [u["ID"] for u in state.search_users(1, 10, misid="mis1500")] == [1500]
    assert state.search_users(1, 10, misid="MIS15") == []


def test_template_and_standard_search_filter_by_organisation_and_title(state):
    assert state.search_templates(None, "software") == [
        {"ID": 101, "Title": "Software Developer L4", "OrganisationID": 1}
    ]
    assert [t["ID"] for t in state.search_templates(2, None)] == [201]
    assert [s["ID"] for s in state.search_standards(2, None)] == [520]
    assert state.search_standards(1, "no such title") == []


def test_unit_search_by_standard(state):
    assert state.search_units(510) == [
        {"ID": 9040, "Title": "Network Fundamentals", "StandardID": 510},
        {"ID": 9041, "Title": "Network Security", "StandardID": 510},
        {"ID": 9042, "Title": "Network Troubleshooting", "StandardID": 510},
    ]


def test_learner_view_of_unknown_learner_is_not_found(state):
    with pytest.raises(NotFound):
        state.learner_view(999_999)
