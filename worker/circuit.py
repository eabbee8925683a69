"""The Onefile circuit: after a run of transient failures, stop taking messages.

While open, the service cancels its consumer and probes Onefile with backoff; deliveries
that fail while it is open go back to the queue without spending an attempt, so an
outage pauses work instead of burning every message's retries.
"""

from __future__ import annotations

import structlog

from worker.metrics import CIRCUIT_OPEN

__all__ = ["Circuit", "probe_delays_s"]

log = structlog.get_logger(__name__)


class Circuit:
    def __init__(self, failure_threshold: int) -> None:
        self.failure_threshold = failure_threshold
        self.failures = 0
        self.is_open = False
        CIRCUIT_OPEN.set(0)

    def record_success(self) -> None:
        self.failures = 0

    def record_failure(self) -> bool:
        """Count one transient failure; return True when the circuit is (now) open."""
        self.failures += 1
        if not self.is_open and self.failures >= self.failure_threshold:
            self.is_open = True
            CIRCUIT_OPEN.set(1)
            log.error("Onefile keeps failing; pausing consumption until it answers",
                      consecutive_failures=self.failures)
        return self.is_open

    def close(self) -> None:
        if self.is_open:
            log.info("Onefile answers again; resuming consumption")
        self.is_open = False
        self.failures = 0
        CIRCUIT_OPEN.set(0)


def probe_delays_s(max_s: float, first_s: float = 1.0) -> list[float]:
    """Backoff between probes while the circuit is open: 1, 2, 4 ... capped at ``max_s``."""
    delays, delay = [], first_s
    while delay < max_s:
        delays.append(delay)
        delay *= 2
    delays.append(max_s)
    return delays
