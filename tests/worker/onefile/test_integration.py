"""The client against the real sandbox subprocess over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.sandbox_fixture import SandboxHandle
from tests.worker.onefile.fault_batch import assign_batch
from worker.onefile import OnefileClient, Standard, Unit

pytestmark = pytest.mark.integration

SandboxFactory = Callable[..., SandboxHandle]
MakeClient = Callable[..., OnefileClient]

#: The "done" check's fault mix: 30% of calls fail, split three ways.
FAULTS = {"error_rate": 0.10, "apply_then_fail_rate": 0.15, "timeout_rate": 0.05,
          "hang_s": 1.0, "random_seed": 20240501}


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., OnefileClient]]:
    """Clients on a sandbox (fast backoff unless overridden); all closed afterwards."""
    made: list[OnefileClient] = []

    def factory(sandbox: SandboxHandle, **overrides: Any) -> OnefileClient:
        options: dict[str, Any] = {"backoff_base_s": 0.05, "backoff_max_s": 1.0,
                                   "timeout_s": 10.0}
        options.update(overrides)
        client = OnefileClient(sandbox.base_url, sandbox.token, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


async def test_every_endpoint_round_trips_against_the_sandbox(
        sandbox: SandboxHandle, client_for: MakeClient) -> None:
    client = client_for(sandbox)
    templates = await client.search_framework_templates()
    assert 101 in {t.id for t in templates}
    assert Standard(id=507, title=None).id in {s.id for s in await client.search_standards()}
    assert {u.id for u in await client.search_units(standard_id=507)} == {9010, 9011}
    assert all(isinstance(u, Unit) and u.standard_id == 507
               for u in await client.search_units(standard_id=507))
    [user] = await client.search_users(mis_id=sandbox.learner(1001)["learner"]["MISID"])
    assert user.id == 1001
    assert await client.search_learning_aims(1001) == []
    aim_id = await client.assign_standard(507, 1001)
    summary_id = await client.assign_unit(9010, 1001, 507)
    assert [a.id for a in await client.search_learning_aims(1001)] == [aim_id]
    [summary] = await client.search_unit_summaries(1001)
    assert (summary.id, summary.unit_id, summary.learning_aim_id) == (summary_id, 9010, aim_id)
    await client.assign_framework_template(101, 1007)
    assert {a.standard_id for a in await client.search_learning_aims(1007)} == {507, 508}


async def test_a_learners_seeded_aim_is_read(sandbox: SandboxHandle,
                                            client_for: MakeClient) -> None:
    [aim] = await client_for(sandbox).search_learning_aims(1005)  # 1005 % 3 == 0
    assert (aim.standard_id, aim.user_id) == (505, 1005)


async def test_expired_tokens_mid_batch_are_refreshed_once_and_nothing_fails(
        sandbox: SandboxHandle, client_for: MakeClient) -> None:
    client = client_for(sandbox)
    first = await asyncio.gather(*(client.search_learning_aims(1001 + n) for n in range(10)))
    sandbox.expire_tokens()
    second = await asyncio.gather(*(client.assign_standard(505, 1001 + n) for n in range(10)))
    assert len(first) == 10 and len(set(second)) == 10
    assert client.stats.tokens_issued == 2
    stats = sandbox.stats()
    assert stats["tokens_issued"] == 2
    assert all(entry["count"] == 1 for entry in stats["standard_assignments"])


async def test_a_429_storm_from_a_stricter_server_completes_without_error(
        sandbox_factory: SandboxFactory, client_for: MakeClient) -> None:
    sandbox = sandbox_factory(rate_limit=20, window_s=2)
    client = client_for(sandbox, rate_limit_per_minute=1000, backoff_base_s=0.2,
                        backoff_max_s=2.0)
    results = await asyncio.gather(*(client.search_learning_aims(1001 + n) for n in range(60)))
    assert len(results) == 60
    stats = sandbox.stats()
    assert stats["rate_limited"] > 0
    assert client.stats.rate_limited == stats["rate_limited"]
    assert stats["calls_by_endpoint"]["LearningAim/Search"] == 60


async def test_a_429_storm_honours_the_servers_retry_after(
        sandbox_factory: SandboxFactory, client_for: MakeClient) -> None:
    sandbox = sandbox_factory(rate_limit=10, window_s=1, retry_after=True)
    client = client_for(sandbox, rate_limit_per_minute=1000)
    await asyncio.gather(*(client.search_standards() for _ in range(30)))
    assert sandbox.stats()["rate_limited"] > 0
    assert sandbox.stats()["calls_by_endpoint"]["Standard/Search"] == 30


async def test_searches_through_30_percent_faults_all_succeed(
        sandbox_factory: SandboxFactory, client_for: MakeClient) -> None:
    sandbox = sandbox_factory(faults={"error_rate": 0.2, "timeout_rate": 0.1, "hang_s": 1.0,
                                      "random_seed": 7})
    client = client_for(sandbox, timeout_s=0.5, max_attempts=8)
    results = await asyncio.gather(*(client.search_learning_aims(1001 + n) for n in range(40)))
    assert len(results) == 40
    injected = sandbox.stats()["faults_injected"]
    assert injected["error"] + injected["timeout"] > 0
    assert client.stats.retries == injected["error"] + injected["timeout"]


async def test_paging_reads_every_aim_across_many_pages(
        sandbox: SandboxHandle, client_for: MakeClient) -> None:
    client = client_for(sandbox, page_size=4)
    created = [await client.assign_standard(505 + n % 10, 1001) for n in range(22)]
    aims = await client.search_learning_aims(1001)
    assert [a.id for a in aims] == created
    assert [a["ID"] for a in sandbox.learner(1001)["learning_aims"]] == created
    assert sandbox.stats()["calls_by_endpoint"]["LearningAim/Search"] == 6  # 5 full, 1 short


async def test_paging_stops_at_the_204_after_an_exactly_full_last_page(
        sandbox: SandboxHandle, client_for: MakeClient) -> None:
    client = client_for(sandbox, page_size=4)
    for n in range(8):
        await client.assign_standard(505 + n, 1001)
    assert len(await client.search_learning_aims(1001)) == 8
    assert sandbox.stats()["calls_by_endpoint"]["LearningAim/Search"] == 3


@pytest.mark.slow
async def test_the_client_holds_the_window_limit_itself(
        sandbox_factory: SandboxFactory, client_for: MakeClient) -> None:
    sandbox = sandbox_factory(rate_limit=30, window_s=3)
    client = client_for(sandbox, rate_limit_per_minute=30, window_s=3)
    await asyncio.gather(*(client.search_learning_aims(1001 + n) for n in range(75)))
    stats = sandbox.stats()
    assert stats["rate_limited"] == 0
    assert stats["max_calls_in_window"] <= 30
    assert stats["calls"] == 76  # 75 searches and one authentication


@pytest.mark.slow
async def test_done_100_assignments_through_30_percent_faults_land_exactly_once(
        sandbox_factory: SandboxFactory, client_for: MakeClient) -> None:
    """The "done" check: every learner assigned once, no 429, despite 30% injected faults."""
    sandbox = sandbox_factory(rate_limit=100, window_s=2, faults=FAULTS)
    client = client_for(sandbox, rate_limit_per_minute=100, window_s=2, timeout_s=0.5,
                        backoff_base_s=0.05, backoff_max_s=0.5)
    learners = range(1001, 1101)
    report = await assign_batch(client, 101, learners, concurrency=10)
    stats = sandbox.stats()
    counts = {(e["learner_id"], e["template_id"]): e["count"] for e in stats["assignments"]}
    assert counts == {(learner, 101): 1 for learner in learners}
    assert stats["rate_limited"] == 0
    assert report.ambiguous > 0  # the faults really bit
    assert report.ambiguous_applied > 0 and report.ambiguous_not_applied > 0
