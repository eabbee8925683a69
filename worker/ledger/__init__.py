"""The idempotency ledger: what was begun, finished and published, per enrolment.

One interface (``Ledger``), one backend per module. ``open_ledger`` picks the backend
from ``LEDGER_URL``.
"""

from __future__ import annotations

from worker.ledger.base import Assignment, Ledger, Progress
from worker.ledger.sqlite import SqliteLedger

__all__ = ["Assignment", "Ledger", "Progress", "SqliteLedger", "open_ledger"]


async def open_ledger(url: str) -> Ledger:
    """Open (and create or migrate) the ledger named by ``url``."""
    if url.startswith("sqlite:///"):
        ledger: Ledger = SqliteLedger(url.removeprefix("sqlite:///"))
    else:
        raise ValueError(f"unsupported ledger URL scheme: {url.split(':', 1)[0]}")
    await ledger.open()
    return ledger
