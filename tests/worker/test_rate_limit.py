"""The limit holds across processes: a restart (or a standby taking over) counts the calls
its predecessor made in the last minute, which Onefile still counts."""

from __future__ import annotations

import asyncio
import time

from tests.worker_fixture import enrolment

LIMIT = 40


async def poll(check, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_a_worker_restarted_at_the_limit_causes_no_429(broker, worker_factory,
                                                             sandbox_factory):
    sandbox = sandbox_factory(rate_limit=LIMIT)
    first = worker_factory(sandbox, onefile_rate_limit_per_minute=LIMIT)
    for i in range(20):  # 4 calls each: two windows' worth
        await broker.publish(enrolment(1801 + i, "ST0116-L4"))
    await poll(lambda: sandbox.stats()["calls"] >= LIMIT, 30)  # the first minute is spent
    first.kill()
    second = worker_factory(sandbox, onefile_rate_limit_per_minute=LIMIT)
    await poll(lambda: sandbox.stats()["calls"] >= LIMIT + 10, 120)  # the next window
    stats = sandbox.stats()
    assert stats["rate_limited"] == 0
    assert stats["max_calls_in_window"] <= LIMIT
    assert any(line["event"].startswith("counting Onefile calls made in the last minute")
               for line in second.log_lines())
