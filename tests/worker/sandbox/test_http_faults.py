"""Fault injection, outages and reset over HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

NO_FAULTS = {"error": 0, "timeout": 0, "apply_then_fail": 0, "down": 0}


@pytest.fixture
def faulty(sandbox_factory, api_for):
    """An authenticated client of a sandbox started with the given fault settings."""

    def start(**faults):
        api = api_for(sandbox_factory(faults=faults))
        api.authenticate()
        return api

    return start


def test_error_rate_answers_500_and_applies_nothing(faulty):
    api = faulty(error_rate=1.0)

    response = api.post("/FrameworkTemplate/101/Assign/1001/false")

    assert response.status_code == 500
    assert response.json()["Message"]
    assert api.sandbox.learner(1001)["learning_aims"] == []
    stats = api.sandbox.stats()
    assert stats["assignments"] == []
    assert stats["faults_injected"] == {**NO_FAULTS, "error": 1}


def test_faults_repeat_exactly_for_a_fixed_random_seed_after_reset(faulty):
    api = faulty(error_rate=0.5, random_seed=42)

    def run() -> list[int]:
        api.authenticate()
        return [api.post("/Unit/Search", {}).status_code for _ in range(30)]

    first = run()
    errors = api.sandbox.stats()["faults_injected"]["error"]
    api.sandbox.reset()

    assert run() == first
    assert errors == first.count(500)
    assert 0 < errors < 30


def test_apply_then_fail_applies_the_assignment_then_answers_500(faulty):
    api = faulty(apply_then_fail_rate=1.0)

    response = api.post("/FrameworkTemplate/101/Assign/1001/false")

    assert response.status_code == 500
    assert [a["StandardID"] for a in api.sandbox.learner(1001)["learning_aims"]] == [507, 508]
    stats = api.sandbox.stats()
    assert stats["assignments"][0]["count"] == 1
    assert stats["faults_injected"]["apply_then_fail"] == 1


def test_apply_then_fail_leaves_searches_alone(faulty):
    api = faulty(apply_then_fail_rate=1.0)

    assert api.post("/Unit/Search", {}).status_code == 200
    assert api.sandbox.stats()["faults_injected"] == NO_FAULTS


def test_a_timed_out_search_hangs_hang_s_then_answers_500(faulty):
    api = faulty(timeout_rate=1.0, hang_s=0.3)
    started = time.monotonic()

    response = api.post("/Unit/Search", {})

    assert response.status_code == 500
    assert time.monotonic() - started >= 0.3
    assert api.sandbox.stats()["faults_injected"]["timeout"] == 1


def test_timed_out_assigns_apply_their_effect_about_half_the_time(faulty):
    api = faulty(timeout_rate=1.0, hang_s=0.01, random_seed=1234)
    learners = range(1007, 1067, 3)  # 20 learners without seeded aims

    statuses = {api.post(f"/Standard/507/Assign/{lid}").status_code for lid in learners}

    assert statuses == {500}
    applied = [lid for lid in learners if api.sandbox.learner(lid)["learning_aims"]]
    assert all(
        a["StandardID"] == 507 for lid in applied for a in api.sandbox.learner(lid)["learning_aims"]
    )
    assert 0 < len(applied) < 20
    stats = api.sandbox.stats()
    assert [a["learner_id"] for a in stats["standard_assignments"]] == applied
    assert stats["faults_injected"]["timeout"] == 20


def test_a_client_that_gives_up_on_a_hanging_call_can_go_on(faulty):
    api = faulty(timeout_rate=1.0, hang_s=30)

    with pytest.raises(httpx.ReadTimeout):
        api.client.post("/Unit/Search", json={}, headers={"X-TokenID": api.token}, timeout=0.2)
    api.sandbox.set_faults(timeout_rate=0.0)
    assert api.post("/Unit/Search", {}).status_code == 200


def test_latency_ms_delays_every_api_call(faulty):
    api = faulty(latency_ms=250)
    started = time.monotonic()

    api.authenticate()

    assert time.monotonic() - started >= 0.25


def test_down_answers_503_to_every_api_call_including_authentication(api):
    api.sandbox.set_faults(down=True)

    refused_auth = api.client.post("/Authentication", headers={"X-CustomerToken": "sandbox"})
    refused_search = api.post("/Unit/Search", {})

    assert (refused_auth.status_code, refused_search.status_code) == (503, 503)
    assert api.sandbox.stats()["faults_injected"]["down"] == 2
    api.sandbox.set_faults(down=False)
    assert api.post("/Unit/Search", {}).status_code == 200


def test_a_sandbox_can_start_down(sandbox_factory, api_for):
    api = api_for(sandbox_factory(faults={"down": True}))

    response = api.client.post("/Authentication", headers={"X-CustomerToken": "sandbox"})

    assert response.status_code == 503


def test_set_faults_answers_the_full_settings(sandbox):
    assert sandbox.set_faults(error_rate=0.25) == {
        "error_rate": 0.25,
        "timeout_rate": 0.0,
        "apply_then_fail_rate": 0.0,
        "latency_ms": 0.0,
        "hang_s": 30.0,
        "down": False,
        "random_seed": 1234,
    }


@pytest.mark.parametrize("faults", [{"error_rate": 2}, {"down": "yes"}, {"nope": 1}])
def test_invalid_fault_settings_are_400_and_change_nothing(sandbox, faults):
    response = httpx.post(f"{sandbox.admin_url}/faults", json=faults)

    assert response.status_code == 400
    assert response.json()["Message"]
    assert httpx.get(f"{sandbox.admin_url}/faults").json()["error_rate"] == 0.0


def test_reset_restores_seed_data_counters_tokens_and_start_up_faults(faulty):
    api = faulty(error_rate=0.0, latency_ms=1)
    api.sandbox.set_faults(apply_then_fail_rate=1.0)
    api.post("/FrameworkTemplate/107/Assign/1005/false")  # overrides 1005's seeded 505 aim
    old_token = api.token

    api.sandbox.reset()

    aims = api.sandbox.learner(1005)["learning_aims"]
    assert [(a["ID"], a["StandardID"]) for a in aims] == [(20002, 505)]
    assert api.sandbox.stats() == {
        "calls": 0,
        "calls_by_endpoint": {},
        "rate_limited": 0,
        "max_calls_in_window": 0,
        "tokens_issued": 0,
        "faults_injected": NO_FAULTS,
        "assignments": [],
        "standard_assignments": [],
        "unit_assignments": [],
    }
    assert httpx.get(f"{api.sandbox.admin_url}/faults").json()["apply_then_fail_rate"] == 0.0
    assert httpx.get(f"{api.sandbox.admin_url}/faults").json()["latency_ms"] == 1.0
    assert api.post("/Unit/Search", {}, token=old_token).status_code == 401


def test_learner_view_of_an_unknown_learner_is_404(sandbox):
    response = httpx.get(f"{sandbox.admin_url}/learners/999999")

    assert response.status_code == 404
