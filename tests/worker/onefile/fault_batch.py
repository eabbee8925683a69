"""Assign one template to many learners through faults, never blindly resending an assign.

Shared by ``test_integration.py`` (the "done" check) and ``bench/client_faults.py``.
Per learner: snapshot the learning aims, assign; on :class:`AmbiguousError` look at the
aims again: new aims mean the assign took effect, none mean assign again. A plain
:class:`TransientError` (nothing was sent, or a search ran out of attempts) is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from worker.errors import AmbiguousError, TransientError
from worker.onefile import OnefileClient

#: Rounds of snapshot-assign-check per learner before the batch gives up on one.
MAX_ROUNDS = 25


@dataclass
class BatchReport:
    learners: int = 0
    assign_calls: int = 0
    ambiguous: int = 0
    ambiguous_applied: int = 0
    ambiguous_not_applied: int = 0
    transient_retries: int = 0
    seconds: float = 0.0


async def _aim_ids(client: OnefileClient, learner_id: int, report: BatchReport) -> set[int]:
    for _ in range(MAX_ROUNDS):
        try:
            return {aim.id for aim in await client.search_learning_aims(learner_id)}
        except TransientError:
            report.transient_retries += 1
    raise RuntimeError(f"learner {learner_id}: aims unreadable after {MAX_ROUNDS} rounds")


async def assign_once(client: OnefileClient, template_id: int, learner_id: int,
                      report: BatchReport) -> None:
    """Assign ``template_id`` to ``learner_id`` so that it takes effect exactly once."""
    for _ in range(MAX_ROUNDS):
        before = await _aim_ids(client, learner_id, report)
        report.assign_calls += 1
        try:
            await client.assign_framework_template(template_id, learner_id)
            return
        except AmbiguousError:
            report.ambiguous += 1
            if await _aim_ids(client, learner_id, report) - before:
                report.ambiguous_applied += 1
                return
            report.ambiguous_not_applied += 1
        except TransientError:
            report.transient_retries += 1
    raise RuntimeError(f"learner {learner_id}: not assigned after {MAX_ROUNDS} rounds")


async def assign_batch(client: OnefileClient, template_id: int, learner_ids: Iterable[int],
                       *, concurrency: int = 10) -> BatchReport:
    report = BatchReport()
    gate = asyncio.Semaphore(concurrency)
    learners = list(learner_ids)
    report.learners = len(learners)

    async def one(learner_id: int) -> None:
        async with gate:
            await assign_once(client, template_id, learner_id, report)

    started = time.monotonic()
    await asyncio.gather(*(one(learner_id) for learner_id in learners))
    report.seconds = time.monotonic() - started
    return report
