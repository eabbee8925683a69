"""A ledger per backend: the contract tests run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.worker.ledger.postgres_db import fresh_schema
from worker.ledger import Ledger, open_ledger


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A ``LEDGER_URL`` for the test database, in a schema of its own."""
    async with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A ``LEDGER_URL`` naming an empty ledger store, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        async with fresh_schema() as url:
            yield url


@pytest.fixture
async def ledger(ledger_url: str) -> AsyncIterator[Ledger]:
    """An open ledger on an empty store, closed at teardown."""
    opened = await open_ledger(ledger_url)
    yield opened
    await opened.close()
