"""The sandbox's Onefile endpoints over HTTP, against a real ``onefile-sandbox`` process."""

from __future__ import annotations

import time

import httpx
import pytest

DENIED = {"Message": "Authorization has been denied for this request."}
NO_AIMS = 1001


def test_authentication_answers_a_bare_text_session_token(sandbox):
    response = httpx.post(
        f"{sandbox.base_url}/Authentication", headers={"X-CustomerToken": "sandbox"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.isalnum() and len(response.text) >= 20
    assert sandbox.stats()["tokens_issued"] == 1


@pytest.mark.parametrize("headers", [{}, {"X-CustomerToken": "wrong"}], ids=["missing", "wrong"])
def test_authentication_without_the_customer_token_is_401_with_a_message(sandbox, headers):
    response = httpx.post(f"{sandbox.base_url}/Authentication", headers=headers)

    assert response.status_code == 401
    assert isinstance(response.json()["Message"], str)
    assert sandbox.stats()["tokens_issued"] == 0


def test_the_customer_token_comes_from_onefile_customer_token(sandbox_factory, api_for):
    api = api_for(sandbox_factory(token="s3cret"))

    assert api.sandbox.token == "s3cret"
    assert api.authenticate()
    refused = api.client.post("/Authentication", headers={"X-CustomerToken": "sandbox"})
    assert refused.status_code == 401


@pytest.mark.parametrize("token", ["", "not-a-session-token"], ids=["missing", "unknown"])
def test_api_calls_without_a_valid_session_token_are_denied(sandbox, api_for, token):
    api = api_for(sandbox)
    response = api.post("/Standard/Search", {}, token=token or None)

    assert response.status_code == 401
    assert response.json() == DENIED


def test_expired_session_tokens_are_denied_until_the_client_authenticates_again(api):
    old = api.token
    api.sandbox.expire_tokens()

    assert api.post("/Standard/Search", {}, token=old).status_code == 401
    api.authenticate()
    assert api.post("/Standard/Search", {}).status_code == 200


def test_session_tokens_expire_token_ttl_s_after_issue(sandbox_factory, api_for):
    api = api_for(sandbox_factory(token_ttl_s=0.3))
    api.authenticate()
    issued = time.monotonic()

    deadline = issued + 10
    while api.post("/Unit/Search", {}).status_code == 200:
        assert time.monotonic() < deadline, "token never expired"
        time.sleep(0.05)
    assert time.monotonic() - issued >= 0.3


def test_an_empty_body_counts_as_an_empty_search(api):
    response = api.post("/FrameworkTemplate/Search")

    assert response.status_code == 200
    assert [t["ID"] for t in response.json()] == [101, 102, 103, 104, 105, 106, 107, 201]


def test_searches_filter_by_their_body_fields(api):
    templates = api.post("/FrameworkTemplate/Search", {"OrganisationID": 1, "Title": "software"})
    standards = api.post("/Standard/Search", {"OrganisationID": 2})
    units = api.post("/Unit/Search", {"StandardID": 507})
    users = api.post("/User/Search/1/10", {"MISID": "MIS1234"})

    assert templates.json() == [{"ID": 101, "Title": "Software Developer L4", "OrganisationID": 1}]
    assert standards.json() == [{"ID": 520, "Title": "Accounts Assistant L2 (ST0001)"}]
    assert [(u["ID"], u["StandardID"]) for u in units.json()] == [(9010, 507), (9011, 507)]
    assert [(u["ID"], u["MISID"], u["OrganisationID"]) for u in users.json()] == [
        (1234, "MIS1234", 1)
    ]
    assert set(users.json()[0]) == {"ID", "FirstName", "LastName", "MISID", "OrganisationID"}


def test_a_search_with_no_results_answers_204_with_an_empty_body(api):
    for path, body in [
        ("/LearningAim/Search/1/50", {"UserID": NO_AIMS}),
        ("/UnitSummary/Search/1/50", {"UserID": NO_AIMS}),
        ("/User/Search/1/50", {"MISID": "nobody"}),
        ("/Standard/Search", {"Title": "no such standard"}),
    ]:
        response = api.post(path, body)
        assert (path, response.status_code, response.content) == (path, 204, b"")


def test_user_search_pages_are_one_based_and_a_page_past_the_end_is_204(api):
    first = api.post("/User/Search/1/1000", {"OrganisationID": 1})
    second = api.post("/User/Search/2/1000", {"OrganisationID": 1})
    third = api.post("/User/Search/3/1000", {"OrganisationID": 1})

    assert [u["ID"] for u in first.json()] == list(range(1001, 2001))
    assert [u["ID"] for u in second.json()] == list(range(2001, 3001))
    assert third.status_code == 204


@pytest.mark.parametrize("paging", ["0/10", "1/0", "1/1001", "x/10"])
def test_paging_outside_one_based_pages_of_1_to_1000_is_400(api, paging):
    response = api.post(f"/User/Search/{paging}", {})

    assert response.status_code == 400
    assert "Message" in response.json()


def test_template_assign_answers_204_and_creates_aims_and_unit_summaries(api):
    response = api.post(f"/FrameworkTemplate/101/Assign/{NO_AIMS}/false")

    assert (response.status_code, response.content) == (204, b"")
    aims = api.post("/LearningAim/Search/1/50", {"UserID": NO_AIMS}).json()
    assert [(a["StandardID"], a["UserID"], a["Status"]) for a in aims] == [
        (507, NO_AIMS, "Active"),
        (508, NO_AIMS, "Active"),
    ]
    assert aims[0]["StartDate"].endswith("Z")
    summaries = api.post("/UnitSummary/Search/1/50", {"UserID": NO_AIMS}).json()
    assert [(s["UnitID"], s["LearningAimID"]) for s in summaries] == [
        (9010, aims[0]["ID"]),
        (9011, aims[0]["ID"]),
        (9020, aims[1]["ID"]),
        (9021, aims[1]["ID"]),
    ]
    assert api.sandbox.stats()["assignments"] == [
        {"learner_id": NO_AIMS, "template_id": 101, "count": 1, "only_change_count": 0}
    ]


def test_only_change_assigned_is_case_insensitive_and_creates_nothing_new(api):
    assert api.post(f"/FrameworkTemplate/101/Assign/{NO_AIMS}/True").status_code == 204
    assert api.post(f"/FrameworkTemplate/101/Assign/{NO_AIMS}/TRUE").status_code == 204

    assert api.sandbox.learner(NO_AIMS)["learning_aims"] == []
    assert api.sandbox.stats()["assignments"] == [
        {"learner_id": NO_AIMS, "template_id": 101, "count": 0, "only_change_count": 2}
    ]


def test_only_change_assigned_other_than_true_or_false_is_400(api):
    response = api.post(f"/FrameworkTemplate/101/Assign/{NO_AIMS}/yes")

    assert response.status_code == 400
    assert api.sandbox.stats()["assignments"] == []


def test_standard_then_unit_assign_answer_the_new_ids_as_json_integers(api):
    aim = api.post(f"/Standard/507/Assign/{NO_AIMS}")
    unit = api.post(f"/Unit/9010/Assign/{NO_AIMS}/507")

    assert (aim.status_code, unit.status_code) == (200, 200)
    assert isinstance(aim.json(), int) and isinstance(unit.json(), int)
    view = api.sandbox.learner(NO_AIMS)
    assert [a["ID"] for a in view["learning_aims"]] == [aim.json()]
    assert view["unit_summaries"] == [
        {
            "ID": unit.json(),
            "UnitID": 9010,
            "LearningAimID": aim.json(),
            "StandardID": 507,
            "UserID": NO_AIMS,
        }
    ]
    stats = api.sandbox.stats()
    assert stats["standard_assignments"] == [
        {"learner_id": NO_AIMS, "standard_id": 507, "count": 1}
    ]
    assert stats["unit_assignments"] == [
        {"learner_id": NO_AIMS, "unit_id": 9010, "standard_id": 507, "count": 1}
    ]


@pytest.mark.parametrize(
    "path",
    ["/Unit/9010/Assign/1001/507", "/Unit/9020/Assign/1002/507"],
    ids=["no-aim-for-standard", "unit-not-in-standard"],
)
def test_unit_assign_that_cannot_apply_is_400_with_a_message(api, path):
    response = api.post(path)

    assert response.status_code == 400
    assert response.json()["Message"]


@pytest.mark.parametrize(
    "path",
    [
        "/FrameworkTemplate/999/Assign/1001/false",
        "/FrameworkTemplate/101/Assign/999999/false",
        "/Standard/999/Assign/1001",
        "/Standard/507/Assign/999999",
        "/Unit/1/Assign/1002/507",
        "/Unit/9010/Assign/999999/507",
        "/Unit/9010/Assign/1002/999",
    ],
)
def test_assigns_naming_unknown_templates_standards_units_or_learners_are_404(api, path):
    response = api.post(path)

    assert response.status_code == 404
    assert response.json()["Message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/NoSuchThing"), ("POST", "/Standard/abc/Assign/1001"), ("GET", "/Standard/Search")],
)
def test_unknown_routes_are_404_and_counted(api, method, path):
    response = api.client.request(method, path, headers={"X-TokenID": api.token or ""})

    assert response.status_code == 404
    assert api.sandbox.stats()["calls_by_endpoint"]["(unknown)"] == 1


def test_a_body_that_is_not_a_json_object_is_400(api):
    response = api.client.post(
        "/Unit/Search", content=b"{not json", headers={"X-TokenID": api.token or ""}
    )

    assert response.status_code == 400
    assert api.post("/Unit/Search", [1, 2]).status_code == 400


def test_stats_count_calls_by_endpoint_template_without_ids(api):
    api.post(f"/Standard/507/Assign/{NO_AIMS}")
    api.post("/Standard/508/Assign/1002")
    api.post("/LearningAim/Search/1/10", {"UserID": NO_AIMS})
    api.post("/LearningAim/Search/2/10", {"UserID": NO_AIMS})

    stats = api.sandbox.stats()
    assert stats["calls"] == 5
    assert stats["calls_by_endpoint"] == {
        "Authentication": 1,
        "LearningAim/Search": 2,
        "Standard/Assign": 2,
    }
