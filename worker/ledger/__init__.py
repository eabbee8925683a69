"""The idempotency ledger: what was begun, finished and published, per enrolment.

One interface (``Ledger``), one backend per module. ``open_ledger`` picks the backend
from ``LEDGER_URL``.
"""

from __future__ import annotations

from worker.ledger.base import Assignment, Ledger, Progress
from worker.ledger.postgres import PostgresLedger
from worker.ledger.sqlite import SqliteLedger

__all__ = ["Assignment", "Ledger", "PostgresLedger", "Progress", "SqliteLedger", "open_ledger"]


async def open_ledger(url: str) -> Ledger:
    """Open (and create or migrate) the ledger named by ``url``.

    ``sqlite:///path`` for one replica; ``postgresql://`` (or ``postgres://``) for replicas
    that share it. A PostgreSQL server that cannot be reached raises ``TransientError``; one
    that refuses the role, password or database raises ``ConfigurationError``."""
    if url.startswith("sqlite:///"):
        ledger: Ledger = SqliteLedger(url.removeprefix("sqlite:///"))
    elif url.startswith(("postgresql://", "postgres://")):
        ledger = PostgresLedger(url)
    else:
        raise ValueError(f"unsupported ledger URL scheme: {url.split(':', 1)[0]}")
    await ledger.open()
    return ledger
