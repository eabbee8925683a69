"""Fixtures for the Onefile client's unit tests: a scripted fake and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.worker.onefile.fakes import BASE_URL, CUSTOMER_TOKEN, FakeOnefile
from worker.onefile import OnefileClient


@pytest.fixture
def fake() -> FakeOnefile:
    return FakeOnefile()


@pytest.fixture
async def make_client(fake: FakeOnefile) -> AsyncIterator[Callable[..., OnefileClient]]:
    """Clients on the fake with zero backoff (override any keyword); all closed afterwards."""
    made: list[OnefileClient] = []

    def factory(**overrides: Any) -> OnefileClient:
        options: dict[str, Any] = {"transport": fake.transport(), "backoff_base_s": 0.0,
                                   "backoff_max_s": 0.0, "max_attempts": 3}
        options.update(overrides)
        client = OnefileClient(BASE_URL, CUSTOMER_TOKEN, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()
