"""Session tokens: lazy, refreshed when old or on a 401, one refresh at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from tests.worker.onefile.fakes import (
    BASE_URL,
    CUSTOMER_TOKEN,
    SESSION_PREFIX,
    FakeOnefile,
    Gate,
)
from worker.errors import ConfigurationError, TransientError
from worker.onefile import OnefileAuth, OnefileClient
from worker.onefile.auth import REJECTED_TOKEN_MESSAGE, parse_session_token

MakeClient = Callable[..., OnefileClient]


@pytest.mark.parametrize(("body", "token"), [
    ("abc-123", "abc-123"), ('"abc-123"', "abc-123"), ("  abc-123\n", "abc-123"),
    ("", None), ('""', None),
])
def test_session_token_is_read_from_bare_text_or_a_json_string(body: str,
                                                               token: str | None) -> None:
    assert parse_session_token(body) == token


async def test_first_call_authenticates_with_the_customer_token(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    client = make_client()
    assert fake.requests == []  # lazy: nothing until the first call
    await client.search_standards()
    auth, search = fake.requests
    assert fake.paths() == ["Authentication", "Standard/Search"]
    assert auth.method == "POST"
    assert auth.headers["X-CustomerToken"] == CUSTOMER_TOKEN
    assert "X-TokenID" not in auth.headers
    assert search.headers["X-TokenID"] == f"{SESSION_PREFIX}1"
    assert "X-CustomerToken" not in search.headers


async def test_a_json_quoted_session_token_is_sent_unquoted(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Authentication", httpx.Response(200, json="quoted-token"))
    fake.live_tokens.add("quoted-token")
    await make_client().search_standards()
    assert fake.requests[-1].headers["X-TokenID"] == "quoted-token"


async def test_the_token_is_reused_across_calls(fake: FakeOnefile,
                                                make_client: MakeClient) -> None:
    client = make_client()
    for _ in range(3):
        await client.search_units(standard_id=507)
    assert fake.paths("Authentication") == ["Authentication"]


async def test_a_401_refreshes_the_token_once_and_resends(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    client = make_client()
    await client.search_standards()
    fake.expire_tokens()
    await client.assign_framework_template(101, 1001)
    assert fake.paths() == ["Authentication", "Standard/Search",
                            "FrameworkTemplate/101/Assign/1001/false", "Authentication",
                            "FrameworkTemplate/101/Assign/1001/false"]
    assert fake.requests[-1].headers["X-TokenID"] == f"{SESSION_PREFIX}2"
    assert client.stats.tokens_issued == 2


async def test_a_401_after_a_fresh_token_is_a_configuration_error_not_a_loop(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Standard/Search", httpx.Response(401), httpx.Response(401))
    with pytest.raises(ConfigurationError):
        await make_client().search_standards()
    assert fake.paths("Authentication") == ["Authentication", "Authentication"]


@pytest.mark.parametrize("status", [401, 403])
async def test_authentication_rejecting_the_customer_token_is_a_configuration_error(
        fake: FakeOnefile, make_client: MakeClient, status: int) -> None:
    fake.script("Authentication", httpx.Response(status, json={"Message": "no"}))
    with pytest.raises(ConfigurationError) as caught:
        await make_client().search_standards()
    assert str(caught.value) == REJECTED_TOKEN_MESSAGE
    assert fake.paths() == ["Authentication"]


async def test_an_empty_authentication_answer_is_transient(
        fake: FakeOnefile, make_client: MakeClient) -> None:
    fake.script("Authentication", httpx.Response(200, text=""))
    with pytest.raises(TransientError):
        await make_client().search_standards()


async def test_concurrent_401s_share_one_refresh(fake: FakeOnefile,
                                                 make_client: MakeClient) -> None:
    client = make_client()
    await client.search_standards()
    fake.expire_tokens()
    fake.script("LearningAim/Search", *[Gate(8, lambda: httpx.Response(401))] * 8)
    results = await asyncio.wait_for(
        asyncio.gather(*(client.search_learning_aims(1001 + n) for n in range(8))), 10)
    assert results == [[]] * 8
    assert fake.paths("Authentication") == ["Authentication"] * 2


async def test_concurrent_first_calls_authenticate_once(fake: FakeOnefile,
                                                        make_client: MakeClient) -> None:
    release = asyncio.Event()

    async def slow_auth(request: httpx.Request) -> httpx.Response:
        await release.wait()
        fake.live_tokens.add("only")
        return httpx.Response(200, text="only")

    fake.script("Authentication", slow_auth)
    client = make_client()
    calls = asyncio.gather(*(client.search_standards() for _ in range(5)))
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(calls, 10)
    assert fake.paths("Authentication") == ["Authentication"]


async def test_an_old_token_is_refreshed_before_sending() -> None:
    fake = FakeOnefile()
    now = [0.0]
    auth = OnefileAuth(BASE_URL, SecretStr(CUSTOMER_TOKEN), token_refresh_s=100,
                       clock=lambda: now[0])
    async with httpx.AsyncClient(base_url=BASE_URL + "/", auth=auth,
                                 transport=fake.transport()) as http:
        await http.post("Standard/Search", json={})
        now[0] = 99.0
        await http.post("Standard/Search", json={})
        now[0] = 100.0
        await http.post("Standard/Search", json={})
    assert fake.paths() == ["Authentication", "Standard/Search", "Standard/Search",
                            "Authentication", "Standard/Search"]
    assert fake.requests[-1].headers["X-TokenID"] == f"{SESSION_PREFIX}2"


async def test_a_failed_authentication_is_handed_back_as_the_response() -> None:
    """A 503 from Authentication ends the flow: the real call is never sent."""
    fake = FakeOnefile()
    fake.script("Authentication", httpx.Response(503))
    auth = OnefileAuth(BASE_URL, SecretStr(CUSTOMER_TOKEN))
    async with httpx.AsyncClient(base_url=BASE_URL + "/", auth=auth,
                                 transport=fake.transport()) as http:
        response = await http.post("Standard/1/Assign/2", json={})
    assert response.status_code == 503
    assert fake.paths() == ["Authentication"]


def test_auth_repr_shows_neither_token() -> None:
    auth = OnefileAuth(BASE_URL, SecretStr(CUSTOMER_TOKEN))
    assert CUSTOMER_TOKEN not in repr(auth)
    assert "SECRET" not in repr(auth)
