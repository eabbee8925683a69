"""PostgreSQL ledger backend: several replicas (an active one and standbys) share it.

Same records and semantics as the SQLite backend: every write is one statement, its own
committed transaction, so a SIGKILL at any line leaves the old or the new record. The
schema is created or migrated by ``open()`` under a transaction-scoped advisory lock, so
replicas starting together neither race nor fail. Connection failures, timeouts and a
server shutting down are translated here into ``LedgerUnavailableError`` (transient): the
message is retried rather than the worker crashing, and every write is safe to repeat. A
role, password or database the server refuses is a ``ConfigurationError``: consumption
stops instead.

Tables go into the first schema of the connection's ``search_path`` (set it with
``?search_path=name`` on ``LEDGER_URL`` to keep several ledgers in one database).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from worker.errors import ConfigurationError, LedgerUnavailableError
from worker.ledger.base import CALL_KEEP_S, CALL_PRUNE_EVERY, Assignment, Progress
from worker.metrics import LEDGER_SECONDS
from worker.startup import mask_url

__all__ = ["PostgresLedger"]

#: Pool bounds: one message holds a connection for one statement at a time.
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 5
#: Seconds to establish a connection, and for any one statement, before giving up.
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 10.0
#: Key of the advisory lock that serialises schema changes across replicas ("onefile").
SCHEMA_LOCK_KEY = 0x6F6E6566696C65

#: Schema changes in order; entry N brings the schema to version N + 1. Append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS assignments (
        learner_id BIGINT NOT NULL,
        course_code TEXT NOT NULL,
        event_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('intent', 'done')),
        framework_template_id BIGINT,
        aims_before BIGINT[] NOT NULL,
        units_before BIGINT[],
        progress JSONB NOT NULL DEFAULT '{}',
        learning_aim_ids BIGINT[] NOT NULL DEFAULT '{}',
        unit_summary_ids BIGINT[] NOT NULL DEFAULT '{}',
        started_at TIMESTAMPTZ NOT NULL,
        completed_at TIMESTAMPTZ,
        PRIMARY KEY (learner_id, course_code)
    );
    CREATE TABLE IF NOT EXISTS published (
        event_id TEXT PRIMARY KEY,
        body BYTEA NOT NULL,
        published_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 2: the Onefile call journal, shared by replicas so a standby that takes over counts
    # the calls its predecessor made in the last window.
    """
    CREATE TABLE IF NOT EXISTS onefile_calls (at DOUBLE PRECISION NOT NULL);
    CREATE INDEX IF NOT EXISTS onefile_calls_at ON onefile_calls (at);
    """,
)


#: Errors after which the same statement may well succeed: the server or the network.
_TRANSIENT = (
    OSError,  # refused, reset, unreachable (ConnectionError is one)
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.InterfaceError,  # e.g. the connection closed under us
    asyncpg.InternalClientError,  # a statement started as the server dropped the connection
    asyncpg.OperatorInterventionError,  # class 57: starting up, shutting down, cancelled
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.TransactionRollbackError,  # class 40: serialization failure, deadlock
)

#: Errors that only a change of LEDGER_URL (or of the server's roles) can cure.
_MISCONFIGURED = (
    asyncpg.InvalidAuthorizationSpecificationError,  # class 28: no such role, bad password
    asyncpg.InvalidCatalogNameError,  # 3D000: no such database
)

_COLUMNS = (
    "learner_id, course_code, event_id, state, framework_template_id, aims_before, "
    "units_before, progress, learning_aim_ids, unit_summary_ids"
)
_PUBLISHED = "SELECT body FROM published WHERE event_id = $1"
_ASSIGNMENT = (
    f"SELECT {_COLUMNS} FROM assignments WHERE learner_id = $1 AND course_code = $2")
_ASSIGNMENTS_OF = (
    f"SELECT {_COLUMNS} FROM assignments WHERE learner_id = $1 ORDER BY course_code")
# An intent is taken over (another event, a fresh snapshot); a completed record never is.
_BEGIN = f"""
    INSERT INTO assignments (learner_id, course_code, event_id, state,
        framework_template_id, aims_before, units_before, progress, started_at)
    VALUES ($1, $2, $3, 'intent', $4, $5, $6, '{{}}', now())
    ON CONFLICT (learner_id, course_code) DO UPDATE SET
        event_id = excluded.event_id,
        framework_template_id = excluded.framework_template_id,
        aims_before = excluded.aims_before,
        units_before = excluded.units_before,
        started_at = excluded.started_at
    WHERE assignments.state = 'intent'
    RETURNING {_COLUMNS}
"""
_SAVE_PROGRESS = (
    "UPDATE assignments SET progress = $1::jsonb "
    "WHERE learner_id = $2 AND course_code = $3 AND state = 'intent'")
_COMPLETE = f"""
    UPDATE assignments SET state = 'done', learning_aim_ids = $1, unit_summary_ids = $2,
        completed_at = now()
    WHERE learner_id = $3 AND course_code = $4 AND state = 'intent'
    RETURNING {_COLUMNS}
"""
_REMEMBER_PUBLISHED = (
    "INSERT INTO published (event_id, body, published_at) VALUES ($1, $2, now()) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING body")


def _row_to_assignment(row: asyncpg.Record) -> Assignment:
    units_before = row["units_before"]
    return Assignment(
        learner_id=row["learner_id"],
        course_code=row["course_code"],
        event_id=row["event_id"],
        state=row["state"],
        framework_template_id=row["framework_template_id"],
        aims_before=list(row["aims_before"]),
        units_before=None if units_before is None else list(units_before),
        progress=Progress.from_json(json.loads(row["progress"])),
        learning_aim_ids=list(row["learning_aim_ids"]),
        unit_summary_ids=list(row["unit_summary_ids"]),
    )


class PostgresLedger:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._calls_recorded = 0

    def __repr__(self) -> str:
        return f"PostgresLedger({mask_url(self.url)!r})"

    async def open(self) -> None:
        async with self._translated("connect"):
            pool = await asyncpg.create_pool(
                self.url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE,
                timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S)
        try:
            async with self._translated("migrate"), pool.acquire() as conn:
                await _migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("ledger is not open")
        return self._pool

    @asynccontextmanager
    async def _translated(self, operation: str) -> AsyncIterator[None]:
        try:
            yield
        except _TRANSIENT as exc:
            raise LedgerUnavailableError(
                f"ledger {operation} failed at {mask_url(self.url)}: "
                f"{type(exc).__name__}: {exc}") from exc
        except _MISCONFIGURED as exc:
            raise ConfigurationError(
                f"ledger {operation} refused at {mask_url(self.url)}: {exc}") from exc

    @asynccontextmanager
    async def _op(self, operation: str) -> AsyncIterator[asyncpg.Pool]:
        """The pool for one ledger operation, timed, with its failures translated."""
        with LEDGER_SECONDS.labels(operation).time():
            async with self._translated(operation):
                yield self.pool

    async def published(self, event_id: str) -> bytes | None:
        async with self._op("published") as pool:
            body = await pool.fetchval(_PUBLISHED, event_id)
        return None if body is None else bytes(body)

    async def assignment(self, learner_id: int, course_code: str) -> Assignment | None:
        async with self._op("assignment") as pool:
            row = await pool.fetchrow(_ASSIGNMENT, learner_id, course_code)
        return None if row is None else _row_to_assignment(row)

    async def assignments_of(self, learner_id: int) -> list[Assignment]:
        async with self._op("assignments_of") as pool:
            rows = await pool.fetch(_ASSIGNMENTS_OF, learner_id)
        return [_row_to_assignment(row) for row in rows]

    async def begin(
        self,
        learner_id: int,
        course_code: str,
        event_id: str,
        *,
        framework_template_id: int | None,
        aims_before: list[int],
        units_before: list[int] | None,
    ) -> Assignment:
        async with self._op("begin") as pool:
            row = await pool.fetchrow(
                _BEGIN, learner_id, course_code, event_id, framework_template_id,
                sorted(aims_before), None if units_before is None else sorted(units_before))
        return await self._returned_or_stored(row, learner_id, course_code)

    async def save_progress(self, learner_id: int, course_code: str, progress: Progress) -> None:
        async with self._op("save_progress") as pool:
            await pool.execute(_SAVE_PROGRESS, json.dumps(progress.to_json()),
                               learner_id, course_code)

    async def complete(
        self,
        learner_id: int,
        course_code: str,
        *,
        learning_aim_ids: list[int],
        unit_summary_ids: list[int],
    ) -> Assignment:
        async with self._op("complete") as pool:
            row = await pool.fetchrow(_COMPLETE, sorted(learning_aim_ids),
                                      sorted(unit_summary_ids), learner_id, course_code)
        return await self._returned_or_stored(row, learner_id, course_code)

    async def record_call(self, wall_time: float) -> None:
        async with self._op("record_call") as pool:
            await pool.execute("INSERT INTO onefile_calls (at) VALUES ($1)", wall_time)
            self._calls_recorded += 1
            if self._calls_recorded % CALL_PRUNE_EVERY == 0:
                await pool.execute("DELETE FROM onefile_calls WHERE at < $1",
                                   wall_time - CALL_KEEP_S)

    async def calls_since(self, wall_time: float) -> list[float]:
        async with self._op("calls_since") as pool:
            rows = await pool.fetch(
                "SELECT at FROM onefile_calls WHERE at >= $1 ORDER BY at", wall_time)
        return [row["at"] for row in rows]

    async def remember_published(self, event_id: str, body: bytes) -> bytes:
        async with self._op("remember_published") as pool:
            stored = await pool.fetchval(_REMEMBER_PUBLISHED, event_id, body)
        if stored is None:  # a body was stored before: keep and return that one
            stored = await self.published(event_id)
        assert stored is not None
        return bytes(stored)

    async def _returned_or_stored(self, row: asyncpg.Record | None, learner_id: int,
                                  course_code: str) -> Assignment:
        """RETURNING gives no row when the WHERE kept the record as it was: read it."""
        if row is not None:
            return _row_to_assignment(row)
        record = await self.assignment(learner_id, course_code)
        assert record is not None
        return record


async def _migrate(conn: asyncpg.Connection) -> None:
    """Bring the schema to the latest version; concurrent callers wait for each other."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM ledger_schema") or 0
        for number, ddl in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(ddl)
            await conn.execute("INSERT INTO ledger_schema (version) VALUES ($1)", number)
