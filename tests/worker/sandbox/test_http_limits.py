"""The sandbox's rate limit over HTTP: 429s, Retry-After and the window statistics."""

from __future__ import annotations

import asyncio
import time

import httpx


def saturate(api, calls: int) -> None:
    """Spend ``calls`` accepted searches (the client is already authenticated)."""
    for _ in range(calls):
        assert api.post("/Unit/Search", {}).status_code == 200


def test_calls_past_the_limit_are_429_without_retry_after_by_default(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit=5))
    api.authenticate()
    saturate(api, 4)

    response = api.post("/Unit/Search", {})

    assert response.status_code == 429
    assert response.json() == {"Message": "Too Many Requests"}
    assert "retry-after" not in response.headers
    stats = api.sandbox.stats()
    assert (stats["calls"], stats["rate_limited"], stats["max_calls_in_window"]) == (5, 1, 5)


def test_retry_after_flag_adds_whole_seconds_until_a_slot_frees(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit=2, window_s=30, retry_after=True))
    api.authenticate()
    saturate(api, 1)

    response = api.post("/Unit/Search", {})

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 30


def test_authentication_and_401s_count_against_the_limit(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit=3))
    denied = [api.post("/Unit/Search", {}, token="bad").status_code for _ in range(2)]
    api.authenticate()

    assert denied == [401, 401]
    assert api.post("/Unit/Search", {}).status_code == 429
    refused = api.client.post("/Authentication", headers={"X-CustomerToken": "sandbox"})
    assert refused.status_code == 429


def test_admin_endpoints_are_neither_limited_nor_counted(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit=1))
    api.authenticate()
    for _ in range(5):
        api.sandbox.learner(1001)
        api.sandbox.set_faults()
    stats = api.sandbox.stats()

    assert (stats["calls"], stats["rate_limited"]) == (1, 0)
    assert stats["calls_by_endpoint"] == {"Authentication": 1}


def test_a_refused_call_is_accepted_once_the_window_slides_past(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit=2, window_s=0.5))
    api.authenticate()
    saturate(api, 1)
    assert api.post("/Unit/Search", {}).status_code == 429

    deadline = time.monotonic() + 10
    while api.post("/Unit/Search", {}).status_code == 429:
        assert time.monotonic() < deadline, "the window never slid"
        time.sleep(0.05)
    assert api.sandbox.stats()["max_calls_in_window"] == 2


async def test_concurrent_calls_past_the_limit_are_all_refused(sandbox_factory):
    sandbox = sandbox_factory(rate_limit=50)
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=30, limits=limits) as client:
        auth = await client.post("/Authentication", headers={"X-CustomerToken": sandbox.token})
        headers = {"X-TokenID": auth.text}
        responses = await asyncio.gather(
            *(client.post("/User/Search/1/50", json={}, headers=headers) for _ in range(200))
        )

    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (49, 151)
    stats = sandbox.stats()
    assert (stats["calls"], stats["rate_limited"], stats["max_calls_in_window"]) == (50, 151, 50)
