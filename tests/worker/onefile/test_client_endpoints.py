"""Each endpoint: its path, its body, how its answer is read; paging until a short page."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.worker.onefile.fakes import FakeOnefile, json_response
from worker.errors import AmbiguousError, TransientError
from worker.onefile import FrameworkTemplate, LearningAim, OnefileClient, Unit, User

MakeClient = Callable[..., OnefileClient]


def _body(request: httpx.Request) -> object:
    return json.loads(request.content)


async def test_template_search_sends_pascal_case_filters_and_reads_templates(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("FrameworkTemplate/Search", json_response(200, [{"ID": 101, "Title": "L4"}]))
    found = await make_client().search_framework_templates(organisation_id=7, title="L4")
    assert found == [FrameworkTemplate(id=101, title="L4")]
    assert _body(fake.requests[-1]) == {"OrganisationID": 7, "Title": "L4"}


async def test_search_without_filters_sends_an_empty_json_object(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    await make_client().search_standards()
    request = fake.requests[-1]
    assert (request.method, _body(request)) == ("POST", {})
    assert request.headers["Content-Type"] == "application/json"


async def test_a_204_search_answer_means_no_results(fake: FakeOnefile,
                                                     make_client: MakeClient) -> None:
    assert await make_client().search_standards(title="nothing") == []


async def test_unit_search_filters_by_standard(fake: FakeOnefile,
                                               make_client: MakeClient) -> None:
    fake.script("Unit/Search", json_response(200, [{"ID": "9010", "StandardID": 507},
                                                   {"ID": "U-X"}]))
    units = await make_client().search_units(standard_id=507)
    assert units == [Unit(id=9010, standard_id=507), Unit(id="U-X")]
    assert _body(fake.requests[-1]) == {"StandardID": 507}


@pytest.mark.parametrize(("flag", "segment"), [(False, "false"), (True, "true")])
async def test_template_assign_posts_an_empty_body_to_its_path(
        fake: FakeOnefile, make_client: MakeClient, flag: bool, segment: str) -> None:
    result = await make_client().assign_framework_template(101, 1001,
                                                           only_change_assigned=flag)
    assert result is None
    request = fake.requests[-1]
    assert fake.paths()[-1] == f"FrameworkTemplate/101/Assign/1001/{segment}"
    assert (request.method, _body(request)) == ("POST", {})


@pytest.mark.parametrize("answer", [
    httpx.Response(200, json=5001), httpx.Response(200, text="5001"),
    httpx.Response(200, text=' "5001" '), httpx.Response(201, json={"ID": 5001}),
])
async def test_standard_assign_returns_the_new_learning_aim_id_however_written(
        fake: FakeOnefile, make_client: MakeClient, answer: httpx.Response) -> None:
    fake.script("Standard/505/Assign/1001", answer)
    assert await make_client().assign_standard(505, 1001) == 5001
    assert _body(fake.requests[-1]) == {}


async def test_unit_assign_returns_the_new_unit_summary_id(fake: FakeOnefile,
                                                           make_client: MakeClient) -> None:
    fake.script("Unit/9010/Assign/1001/507", httpx.Response(200, json=77))
    assert await make_client().assign_unit(9010, 1001, 507) == 77


async def test_unit_assign_quotes_a_string_unit_id_into_the_path(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    await make_client().assign_unit("U 1/2", 1001, 507)
    assert fake.requests[-1].url.raw_path.endswith(b"/Unit/U%201%2F2/Assign/1001/507")


async def test_an_assign_answer_without_an_id_is_ambiguous(fake: FakeOnefile,
                                                           make_client: MakeClient) -> None:
    fake.script("Standard/505/Assign", httpx.Response(200, text="<html>ok</html>"))
    with pytest.raises(AmbiguousError):
        await make_client().assign_standard(505, 1001)


def _aims(start: int, count: int) -> httpx.Response:
    return json_response(200, [{"ID": start + i, "StandardID": 505, "UserID": 1001}
                               for i in range(count)])


async def test_learning_aims_are_paged_from_page_one_until_a_short_page(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("LearningAim/Search", _aims(0, 3), _aims(3, 3), _aims(6, 1))
    aims = await make_client(page_size=3).search_learning_aims(1001)
    assert [aim.id for aim in aims] == list(range(7))
    assert fake.paths("LearningAim") == ["LearningAim/Search/1/3", "LearningAim/Search/2/3",
                                         "LearningAim/Search/3/3"]
    assert all(_body(r) == {"UserID": 1001} for r in fake.requests[1:])


async def test_paging_stops_at_a_204_after_a_full_page(fake: FakeOnefile,
                                                       make_client: MakeClient) -> None:
    fake.script("LearningAim/Search", _aims(0, 2), httpx.Response(204))
    aims = await make_client(page_size=2).search_learning_aims(1001)
    assert [aim.id for aim in aims] == [0, 1]
    assert len(fake.paths("LearningAim")) == 2


async def test_paging_stops_at_an_empty_page(fake: FakeOnefile,
                                             make_client: MakeClient) -> None:
    fake.script("LearningAim/Search", _aims(0, 2), json_response(200, []))
    aims = await make_client(page_size=2).search_learning_aims(1001)
    assert isinstance(aims[0], LearningAim)
    assert len(fake.paths("LearningAim")) == 2


async def test_unit_summaries_are_paged_like_aims(fake: FakeOnefile,
                                                  make_client: MakeClient) -> None:
    fake.script("UnitSummary/Search",
                json_response(200, [{"ID": 1, "UnitID": 9010, "LearningAimID": 5}]))
    summaries = await make_client().search_unit_summaries(1001)
    assert [(s.id, s.unit_id, s.learning_aim_id) for s in summaries] == [(1, 9010, 5)]
    assert fake.paths("UnitSummary") == ["UnitSummary/Search/1/100"]


async def test_user_search_sends_misid_and_extra_filters_in_pascal_case(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("User/Search", json_response(200, [{"ID": 1001, "MISID": "M1"}]))
    users = await make_client().search_users(organisation_id=3, mis_id="M1",
                                             first_name="Ada", Role=1)
    assert users == [User(id=1001, mis_id="M1")]
    assert _body(fake.requests[-1]) == {"OrganisationID": 3, "MISID": "M1",
                                        "FirstName": "Ada", "Role": 1}


async def test_iter_pages_yields_raw_records_of_any_paged_endpoint(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("User/Search", json_response(200, [{"ID": 1}, {"ID": 2}]),
                json_response(200, [{"ID": 3}]))
    client = make_client()
    records = [r async for r in client.iter_pages("User/Search", {"OrganisationID": 3},
                                                  page_size=2)]
    assert records == [{"ID": 1}, {"ID": 2}, {"ID": 3}]


async def test_a_search_answer_that_is_not_a_list_is_transient(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(TransientError):
        await make_client().search_standards()


async def test_a_search_record_without_an_id_is_transient(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", json_response(200, [{"Title": "no id"}]))
    with pytest.raises(TransientError):
        await make_client().search_standards()
