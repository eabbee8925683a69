"""The test PostgreSQL database (started by ``make test``): a fresh schema per test.

A test that needs PostgreSQL fails when none answers at ``TEST_POSTGRES_URL``; it never
skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from worker.startup import mask_url

TEST_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://onefile:onefile@127.0.0.1:5432/onefile_test")
CONNECT_TIMEOUT_S = 5.0
ADMIN_NAME = "onefile-test-admin"


def with_settings(url: str, **settings: str) -> str:
    """``url`` with server settings added to its query (asyncpg passes them at connect)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), *settings.items()])
    return urlunsplit(parts._replace(query=query))


async def connect(url: str = TEST_POSTGRES_URL) -> asyncpg.Connection:
    """An admin connection (its own ``application_name``, whatever ``url`` says)."""
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S,
                                     server_settings={"application_name": ADMIN_NAME})
    except Exception as exc:  # fail, never skip: `make test` starts PostgreSQL
        pytest.fail(f"PostgreSQL is not usable at {mask_url(url)} ({type(exc).__name__}: "
                    f"{exc}); run `make test` or scripts/ensure-postgres.sh")


@asynccontextmanager
async def fresh_schema(prefix: str = "ledger_test") -> AsyncIterator[str]:
    """A new, empty schema, dropped afterwards; yields a URL whose connections use it.

    Its name is also the connections' ``application_name``, so a test can find them in
    ``pg_stat_activity``."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await connect()
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        yield with_settings(TEST_POSTGRES_URL, search_path=name, application_name=name)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()
