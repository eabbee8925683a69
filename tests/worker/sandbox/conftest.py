"""An authenticated HTTP client for the sandbox under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox_fixture import SandboxHandle


class Api:
    """Posts to the sandbox's ``/api/v2.1`` with the session token it authenticated for."""

    def __init__(self, sandbox: SandboxHandle) -> None:
        self.sandbox = sandbox
        self.client = httpx.Client(base_url=sandbox.base_url, timeout=10.0)
        self.token: str | None = None

    def authenticate(self) -> str:
        response = self.client.post(
            "/Authentication", headers={"X-CustomerToken": self.sandbox.token}
        )
        assert response.status_code == 200, response.text
        self.token = response.text
        return self.token

    def post(self, path: str, body: Any = None, *, token: str | None = None) -> httpx.Response:
        headers = {"X-TokenID": token or self.token or ""}
        return self.client.post(path, json=body, headers=headers)


@pytest.fixture
def api_for() -> Iterator[Callable[[SandboxHandle], Api]]:
    """Make (unauthenticated) API clients; all are closed at teardown."""
    made: list[Api] = []

    def make(sandbox: SandboxHandle) -> Api:
        made.append(Api(sandbox))
        return made[-1]

    yield make
    for api in made:
        api.client.close()


@pytest.fixture
def api(sandbox: SandboxHandle, api_for: Callable[[SandboxHandle], Api]) -> Api:
    """A client of a default sandbox, already authenticated (one call spent)."""
    client = api_for(sandbox)
    client.authenticate()
    return client
