"""Benchmark: 100 template assignments through the Onefile client under 30% injected faults.

Run from the repository root::

    .venv/bin/python -m bench.client_faults [--learners 100] [--seed 20240501]

Starts an ``onefile-sandbox`` subprocess (limit 100 calls per 2 s window, client held to the
same), assigns template 101 to each learner with the look-before-reassigning loop of
``tests/worker/onefile/fault_batch.py`` and prints what happened. Exit status 1 if any
learner is not assigned exactly once or the sandbox sent a 429.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

import structlog

from tests.sandbox_fixture import start_sandbox
from tests.worker.onefile.fault_batch import assign_batch
from worker.onefile import OnefileClient

TEMPLATE_ID = 101
FIRST_LEARNER = 1001


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--learners", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--seed", type=int, default=20240501, help="sandbox fault seed")
    p.add_argument("--error-rate", type=float, default=0.10)
    p.add_argument("--apply-then-fail-rate", type=float, default=0.15)
    p.add_argument("--timeout-rate", type=float, default=0.05)
    p.add_argument("--hang-s", type=float, default=1.0)
    p.add_argument("--timeout-s", type=float, default=0.5, help="client timeout")
    p.add_argument("--rate-limit", type=int, default=100, help="calls per window, both sides")
    p.add_argument("--window-s", type=float, default=2.0)
    p.add_argument("--verbose", action="store_true", help="show the client's retry log lines")
    return p.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    faults = {"error_rate": args.error_rate, "apply_then_fail_rate": args.apply_then_fail_rate,
              "timeout_rate": args.timeout_rate, "hang_s": args.hang_s,
              "random_seed": args.seed}
    sandbox = start_sandbox(rate_limit=args.rate_limit, window_s=args.window_s, faults=faults)
    try:
        async with OnefileClient(sandbox.base_url, sandbox.token,
                                 rate_limit_per_minute=args.rate_limit, window_s=args.window_s,
                                 timeout_s=args.timeout_s, backoff_base_s=0.05,
                                 backoff_max_s=0.5) as client:
            learners = range(FIRST_LEARNER, FIRST_LEARNER + args.learners)
            report = await assign_batch(client, TEMPLATE_ID, learners,
                                        concurrency=args.concurrency)
            client_stats = client.stats
        stats: dict[str, Any] = sandbox.stats()
    finally:
        sandbox.stop()
    counts = {e["learner_id"]: e["count"] for e in stats["assignments"]
              if e["template_id"] == TEMPLATE_ID}
    doubles = sum(1 for n in counts.values() if n > 1)
    missing = sum(1 for learner in learners if counts.get(learner, 0) == 0)
    injected = stats["faults_injected"]
    rows = [
        ("learners", report.learners),
        ("seconds", f"{report.seconds:.1f}"),
        ("HTTP calls by the client (incl. auth)", client_stats.calls),
        ("calls accepted by the sandbox", stats["calls"]),
        ("max calls in one window (limit)", f"{stats['max_calls_in_window']} "
                                            f"({args.rate_limit} per {args.window_s:g}s)"),
        ("faults injected", ", ".join(f"{k}={v}" for k, v in injected.items() if v)),
        ("assign calls made", report.assign_calls),
        ("ambiguous outcomes", report.ambiguous),
        ("  ... had taken effect (no resend)", report.ambiguous_applied),
        ("  ... had not (assigned again)", report.ambiguous_not_applied),
        ("client retries (idempotent calls)", client_stats.retries),
        ("batch retries after TransientError", report.transient_retries),
        ("429s sent by the sandbox", stats["rate_limited"]),
        ("learners assigned exactly once", sum(1 for n in counts.values() if n == 1)),
        ("double assignments", doubles),
        ("learners never assigned", missing),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0 if doubles == missing == stats["rate_limited"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not args.verbose:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
