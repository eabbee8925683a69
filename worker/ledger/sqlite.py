"""SQLite ledger backend (the default): one file, WAL, synchronous=FULL.

Every write is its own committed transaction, so a SIGKILL at any line leaves either the
old or the new record, never half of one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiosqlite

from worker.ledger.base import CALL_KEEP_S, CALL_PRUNE_EVERY, Assignment, Progress
from worker.metrics import LEDGER_SECONDS

__all__ = ["SqliteLedger"]


SCHEMA = """
CREATE TABLE IF NOT EXISTS assignments (
    learner_id INTEGER NOT NULL,
    course_code TEXT NOT NULL,
    event_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('intent', 'done')),
    framework_template_id INTEGER,
    aims_before TEXT NOT NULL,
    units_before TEXT,
    progress TEXT NOT NULL DEFAULT '{}',
    learning_aim_ids TEXT NOT NULL DEFAULT '[]',
    unit_summary_ids TEXT NOT NULL DEFAULT '[]',
    started_at REAL NOT NULL,
    completed_at REAL,
    PRIMARY KEY (learner_id, course_code)
);
CREATE TABLE IF NOT EXISTS onefile_calls (
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS onefile_calls_at ON onefile_calls (at);
CREATE TABLE IF NOT EXISTS published (
    event_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    published_at REAL NOT NULL
);
"""


def _row_to_assignment(row: aiosqlite.Row) -> Assignment:
    units_before = row["units_before"]
    return Assignment(
        learner_id=row["learner_id"],
        course_code=row["course_code"],
        event_id=row["event_id"],
        state=row["state"],
        framework_template_id=row["framework_template_id"],
        aims_before=json.loads(row["aims_before"]),
        units_before=None if units_before is None else json.loads(units_before),
        progress=Progress.from_json(json.loads(row["progress"])),
        learning_aim_ids=json.loads(row["learning_aim_ids"]),
        unit_summary_ids=json.loads(row["unit_summary_ids"]),
    )


class SqliteLedger:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._calls_recorded = 0

    def __repr__(self) -> str:
        return f"SqliteLedger({self.path!r})"

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None, timeout=30)
        try:
            db.row_factory = aiosqlite.Row
            # busy_timeout first: a second process opening the same new file waits for the
            # first one's WAL switch and schema instead of failing with "database is locked".
            await db.execute("PRAGMA busy_timeout=30000")
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.executescript(SCHEMA)
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("ledger is not open")
        return self._db

    async def published(self, event_id: str) -> bytes | None:
        with LEDGER_SECONDS.labels("published").time():
            async with self.db.execute(
                "SELECT body FROM published WHERE event_id = ?", (event_id,)
            ) as cur:
                row = await cur.fetchone()
        return None if row is None else bytes(row["body"])

    async def assignment(self, learner_id: int, course_code: str) -> Assignment | None:
        with LEDGER_SECONDS.labels("assignment").time():
            async with self.db.execute(
                "SELECT * FROM assignments WHERE learner_id = ? AND course_code = ?",
                (learner_id, course_code),
            ) as cur:
                row = await cur.fetchone()
        return None if row is None else _row_to_assignment(row)

    async def assignments_of(self, learner_id: int) -> list[Assignment]:
        with LEDGER_SECONDS.labels("assignments_of").time():
            async with self.db.execute(
                "SELECT * FROM assignments WHERE learner_id = ?", (learner_id,)
            ) as cur:
                rows = await cur.fetchall()
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
        with LEDGER_SECONDS.labels("begin").time():
            await self.db.execute(
                """
                INSERT INTO assignments (learner_id, course_code, event_id, state,
                    framework_template_id, aims_before, units_before, progress, started_at)
                VALUES (?, ?, ?, 'intent', ?, ?, ?, '{}', ?)
                ON CONFLICT (learner_id, course_code) DO UPDATE SET
                    event_id = excluded.event_id,
                    framework_template_id = excluded.framework_template_id,
                    aims_before = excluded.aims_before,
                    units_before = excluded.units_before,
                    started_at = excluded.started_at
                WHERE assignments.state = 'intent'
                """,
                (
                    learner_id,
                    course_code,
                    event_id,
                    framework_template_id,
                    json.dumps(sorted(aims_before)),
                    None if units_before is None else json.dumps(sorted(units_before)),
                    time.time(),
                ),
            )
        record = await self.assignment(learner_id, course_code)
        assert record is not None
        return record

    async def save_progress(self, learner_id: int, course_code: str, progress: Progress) -> None:
        with LEDGER_SECONDS.labels("save_progress").time():
            await self.db.execute(
                "UPDATE assignments SET progress = ? "
                "WHERE learner_id = ? AND course_code = ? AND state = 'intent'",
                (json.dumps(progress.to_json()), learner_id, course_code),
            )

    async def complete(
        self,
        learner_id: int,
        course_code: str,
        *,
        learning_aim_ids: list[int],
        unit_summary_ids: list[int],
    ) -> Assignment:
        with LEDGER_SECONDS.labels("complete").time():
            await self.db.execute(
                "UPDATE assignments SET state = 'done', learning_aim_ids = ?, "
                "unit_summary_ids = ?, completed_at = ? "
                "WHERE learner_id = ? AND course_code = ? AND state = 'intent'",
                (
                    json.dumps(sorted(learning_aim_ids)),
                    json.dumps(sorted(unit_summary_ids)),
                    time.time(),
                    learner_id,
                    course_code,
                ),
            )
        record = await self.assignment(learner_id, course_code)
        assert record is not None
        return record

    async def record_call(self, wall_time: float) -> None:
        with LEDGER_SECONDS.labels("record_call").time():
            await self.db.execute("INSERT INTO onefile_calls (at) VALUES (?)", (wall_time,))
            self._calls_recorded += 1
            if self._calls_recorded % CALL_PRUNE_EVERY == 0:
                await self.db.execute("DELETE FROM onefile_calls WHERE at < ?",
                                      (wall_time - CALL_KEEP_S,))

    async def calls_since(self, wall_time: float) -> list[float]:
        async with self.db.execute(
            "SELECT at FROM onefile_calls WHERE at >= ? ORDER BY at", (wall_time,)
        ) as cur:
            return [row["at"] for row in await cur.fetchall()]

    async def remember_published(self, event_id: str, body: bytes) -> bytes:
        with LEDGER_SECONDS.labels("remember_published").time():
            await self.db.execute(
                "INSERT INTO published (event_id, body, published_at) VALUES (?, ?, ?) "
                "ON CONFLICT (event_id) DO NOTHING",
                (event_id, body, time.time()),
            )
        stored = await self.published(event_id)
        assert stored is not None
        return stored
