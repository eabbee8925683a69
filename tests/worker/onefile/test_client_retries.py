"""Retry policy: what is retried, how often, and what is never resent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs

from tests.worker.onefile.fakes import FakeOnefile, json_response
from worker.errors import AmbiguousError, OnefileRejectedError, TransientError
from worker.onefile import OnefileClient

MakeClient = Callable[..., OnefileClient]
ASSIGN = "FrameworkTemplate/101/Assign/1001/false"


def _timeout(kind: type[httpx.TimeoutException] = httpx.ReadTimeout
             ) -> Callable[[httpx.Request], httpx.Response]:
    def fail(request: httpx.Request) -> httpx.Response:
        raise kind("timed out", request=request)
    return fail


async def test_a_5xx_search_is_retried_until_it_succeeds(fake: FakeOnefile,
                                                         make_client: MakeClient) -> None:
    fake.script("Standard/Search", httpx.Response(500), httpx.Response(503),
                json_response(200, [{"ID": 505}]))
    client = make_client(max_attempts=3)
    assert [s.id for s in await client.search_standards()] == [505]
    assert client.stats.retries == 2


async def test_a_search_failing_every_attempt_raises_transient_with_the_status(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", *[httpx.Response(502)] * 4)
    with pytest.raises(TransientError) as caught:
        await make_client(max_attempts=4).search_standards()
    assert not isinstance(caught.value, AmbiguousError)
    assert caught.value.status_code == 502
    assert len(fake.paths("Standard/Search")) == 4


async def test_a_read_timeout_on_a_search_is_retried(fake: FakeOnefile,
                                                     make_client: MakeClient) -> None:
    fake.script("LearningAim/Search", _timeout(), httpx.Response(204))
    assert await make_client().search_learning_aims(1001) == []
    assert len(fake.paths("LearningAim")) == 2


async def test_a_5xx_on_an_assign_is_ambiguous_and_never_resent(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script(ASSIGN, httpx.Response(500))
    client = make_client()
    with pytest.raises(AmbiguousError) as caught:
        await client.assign_framework_template(101, 1001)
    assert caught.value.status_code == 500
    assert fake.paths(ASSIGN) == [ASSIGN]
    assert client.stats.ambiguous == 1


@pytest.mark.parametrize("kind", [httpx.ReadTimeout, httpx.WriteTimeout])
async def test_a_timeout_after_sending_an_assign_is_ambiguous_and_never_resent(
        fake: FakeOnefile, make_client: MakeClient, kind: type[httpx.TimeoutException]) -> None:
    fake.script("Standard/505/Assign", _timeout(kind))
    with pytest.raises(AmbiguousError):
        await make_client().assign_standard(505, 1001)
    assert len(fake.paths("Standard/505/Assign")) == 1


@pytest.mark.parametrize("kind", [httpx.ReadError, httpx.RemoteProtocolError])
async def test_a_broken_connection_after_sending_an_assign_is_ambiguous(
        fake: FakeOnefile, make_client: MakeClient, kind: type[httpx.TransportError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise kind("reset", request=request)

    fake.script("Unit/9010/Assign", fail)
    with pytest.raises(AmbiguousError):
        await make_client().assign_unit(9010, 1001, 507)
    assert len(fake.paths("Unit/9010/Assign")) == 1


@pytest.mark.parametrize("kind", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_an_assign_that_never_left_is_retried(fake: FakeOnefile, make_client: MakeClient,
                                                    kind: type[httpx.TransportError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise kind("never sent", request=request)

    fake.script(ASSIGN, fail)
    await make_client().assign_framework_template(101, 1001)
    assert fake.paths(ASSIGN) == [ASSIGN, ASSIGN]


async def test_an_assign_that_never_left_on_every_attempt_is_transient_not_ambiguous(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake.script(ASSIGN, *[refuse] * 3)
    with pytest.raises(TransientError) as caught:
        await make_client(max_attempts=3).assign_framework_template(101, 1001)
    assert not isinstance(caught.value, AmbiguousError)
    assert caught.value.status_code is None


async def test_a_failed_authentication_in_front_of_an_assign_is_retried(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Authentication", httpx.Response(503), _timeout())
    await make_client().assign_framework_template(101, 1001)
    assert fake.paths() == ["Authentication", "Authentication", "Authentication", ASSIGN]


async def test_a_429_is_resent_without_spending_an_attempt(fake: FakeOnefile,
                                                           make_client: MakeClient) -> None:
    fake.script(ASSIGN, *[httpx.Response(429)] * 5)
    client = make_client(max_attempts=1)
    await client.assign_framework_template(101, 1001)
    assert len(fake.paths(ASSIGN)) == 6
    assert client.stats.rate_limited == 5
    assert client.stats.retries == 0


async def test_a_429_honours_retry_after(fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", httpx.Response(429, headers={"Retry-After": "0.2"}))
    client = make_client(backoff_base_s=5.0, backoff_max_s=5.0)
    started = time.monotonic()
    with capture_logs() as logs:
        await client.search_standards()
    assert time.monotonic() - started >= 0.2
    waits = [e for e in logs if e["event"].startswith("Onefile answered 429")]
    assert [(e["wait_s"], e["retry_after_s"], e["endpoint"]) for e in waits] == [
        (0.2, 0.2, "Standard/Search")]


async def test_a_429_pauses_every_other_call_for_the_wait(fake: FakeOnefile,
                                                          make_client: MakeClient) -> None:
    limited = asyncio.Event()
    arrivals: dict[str, float] = {}

    def too_many(request: httpx.Request) -> httpx.Response:
        arrivals["429"] = time.monotonic()
        limited.set()
        return httpx.Response(429, headers={"Retry-After": "0.3"})

    def users(request: httpx.Request) -> httpx.Response:
        arrivals["other"] = time.monotonic()
        return httpx.Response(204)

    fake.script("Standard/Search", too_many)
    fake.script("User/Search", users)
    client = make_client()
    first = asyncio.create_task(client.search_standards())
    await asyncio.wait_for(limited.wait(), 5)  # the 429's wait has begun by now
    await asyncio.wait_for(asyncio.gather(first, client.search_users()), 5)
    assert arrivals["other"] - arrivals["429"] >= 0.3 - 1e-6


async def test_429s_past_the_wait_budget_raise_transient_429(fake: FakeOnefile,
                                                             make_client: MakeClient) -> None:
    fake.script("Standard/Search", *[httpx.Response(429, headers={"Retry-After": "0.05"})] * 50)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        await make_client(max_429_wait_s=0.3).search_standards()
    assert time.monotonic() - started < 1.0  # bounded by the budget, not by 50 answers
    assert caught.value.status_code == 429
    assert caught.value.retry_after_s == 0.05
    assert 2 <= len(fake.paths("Standard/Search")) <= 7


async def test_a_retry_after_longer_than_the_budget_raises_at_once(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(TransientError) as caught:
        await make_client(max_429_wait_s=300).search_standards()
    assert (caught.value.status_code, caught.value.retry_after_s) == (429, 3600.0)
    assert len(fake.paths("Standard/Search")) == 1


async def test_a_rejection_is_never_retried(fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script(ASSIGN, json_response(404, {"Message": "Learner not found"}))
    with pytest.raises(OnefileRejectedError) as caught:
        await make_client().assign_framework_template(101, 1001)
    error = caught.value
    assert (error.status_code, error.endpoint, error.onefile_message) == (
        404, "FrameworkTemplate/Assign", "Learner not found")
    assert fake.paths(ASSIGN) == [ASSIGN]


async def test_each_retry_logs_one_line_with_attempt_and_wait(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("User/Search", httpx.Response(500), httpx.Response(500))
    with capture_logs() as logs:
        await make_client(max_attempts=3).search_users(organisation_id=1)
    retries = [e for e in logs if e["event"].startswith("Onefile call failed")]
    assert [(e["endpoint"], e["attempt"], e["log_level"]) for e in retries] == [
        ("User/Search", 1, "warning"), ("User/Search", 2, "warning")]
