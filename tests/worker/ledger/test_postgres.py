"""What only the PostgreSQL backend has to get right: URLs, migrations, a server's blips."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.worker.ledger.postgres_db import connect
from worker.errors import ConfigurationError, TransientError
from worker.ledger import PostgresLedger, open_ledger
from worker.ledger.postgres import MIGRATIONS

LEARNER = 4242
COURSE = "ST0116-L4"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def application_name(url: str) -> str:
    return parse_qs(urlsplit(url).query)["application_name"][0]


async def waiting_for_a_lock(admin, url: str) -> list[int]:
    """Process ids of the ledger's connections (named after its schema) waiting on a lock."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
        "AND wait_event_type = 'Lock'", application_name(url))
    return [row["pid"] for row in rows]


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_open_ledger_opens_a_postgres_ledger_for_a_postgresql_url(postgres_url, scheme):
    ledger = await open_ledger(scheme + postgres_url.removeprefix("postgresql"))
    try:
        assert isinstance(ledger, PostgresLedger)
        assert await ledger.published("evt-1") is None
    finally:
        await ledger.close()


async def test_replicas_opening_an_empty_ledger_at_once_all_succeed_and_share_it(
        postgres_url):
    # SQLite is one replica's ledger; PostgreSQL is the one replicas start against together.
    opened = await asyncio.gather(*(open_ledger(postgres_url) for _ in range(6)),
                                  return_exceptions=True)
    ledgers = [ledger for ledger in opened if not isinstance(ledger, BaseException)]
    try:
        assert len(ledgers) == 6, [repr(e) for e in opened if isinstance(e, BaseException)]
        for index, ledger in enumerate(ledgers):
            await ledger.remember_published(f"evt-{index}", str(index).encode())
        for ledger in ledgers:
            assert [await ledger.published(f"evt-{i}") for i in range(6)] == [
                str(i).encode() for i in range(6)]
    finally:
        await asyncio.gather(*(ledger.close() for ledger in ledgers))


async def test_replicas_opening_at_once_migrate_the_schema_exactly_once(postgres_url):
    ledgers = await asyncio.gather(*(open_ledger(postgres_url) for _ in range(6)))
    await asyncio.gather(*(ledger.close() for ledger in ledgers))
    admin = await connect(postgres_url)
    try:
        versions = [r["version"] for r in await admin.fetch("SELECT version FROM ledger_schema")]
    finally:
        await admin.close()

    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


async def test_an_unreachable_server_is_a_transient_error():
    ledger = PostgresLedger(f"postgresql://onefile:onefile@127.0.0.1:{closed_port()}/nothing")

    with pytest.raises(TransientError, match="ledger connect failed"):
        await ledger.open()


async def test_the_password_never_shows_in_repr_or_errors():
    url = f"postgresql://onefile:pa55-Secret@127.0.0.1:{closed_port()}/nothing"
    ledger = PostgresLedger(url)

    with pytest.raises(TransientError) as failure:
        await ledger.open()

    assert "pa55-Secret" not in repr(ledger)
    assert "pa55-Secret" not in str(failure.value)
    assert "onefile:***@127.0.0.1" in str(failure.value)


async def test_a_refused_password_is_a_configuration_error_that_hides_it(postgres_url):
    parts = urlsplit(postgres_url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    wrong = parts._replace(netloc=f"{parts.username}:Wrong-pa55@{host}")
    ledger = PostgresLedger(wrong.geturl())

    with pytest.raises(ConfigurationError) as failure:
        await ledger.open()

    assert "password authentication failed" in str(failure.value)
    assert "Wrong-pa55" not in str(failure.value)


async def test_a_missing_database_is_a_configuration_error(postgres_url):
    url = urlsplit(postgres_url)._replace(path="/no_such_database_here").geturl()

    with pytest.raises(ConfigurationError, match="does not exist"):
        await PostgresLedger(url).open()


async def test_a_connection_lost_mid_statement_is_a_transient_error(postgres_url):
    ledger = await open_ledger(postgres_url)
    await ledger.begin(LEARNER, COURSE, "evt-1", framework_template_id=101, aims_before=[],
                       units_before=None)
    admin = await connect(postgres_url)
    try:
        async with admin.transaction():
            await admin.execute("SELECT 1 FROM assignments FOR UPDATE")  # complete() waits
            completing = asyncio.create_task(
                ledger.complete(LEARNER, COURSE, learning_aim_ids=[1], unit_summary_ids=[]))
            deadline = time.monotonic() + 10
            while not (pids := await waiting_for_a_lock(admin, postgres_url)):
                assert time.monotonic() < deadline, "complete() never waited for the lock"
                await asyncio.sleep(0.02)
            await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid",
                                pids)
            with pytest.raises(TransientError, match="ledger complete failed"):
                await completing
    finally:
        await admin.close()
        await ledger.close()


async def test_the_ledger_works_again_after_its_connections_are_dropped(postgres_url):
    ledger = await open_ledger(postgres_url)
    admin = await connect(postgres_url)
    try:
        await ledger.remember_published("evt-1", b"{}")
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1", application_name(postgres_url))
        assert dropped >= 1
        failures = 0
        for _ in range(3):  # the consumer would retry the message
            try:
                assert await ledger.published("evt-1") == b"{}"
                break
            except TransientError:
                failures += 1
        assert failures <= 1
        assert await ledger.remember_published("evt-2", b"[]") == b"[]"
    finally:
        await admin.close()
        await ledger.close()
