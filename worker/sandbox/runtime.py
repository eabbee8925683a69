"""One sandbox run: its settings, its data and every counter ``/_sandbox/stats`` reports."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.sandbox.faults import FaultConfig, FaultInjector
from worker.sandbox.seed import Seed
from worker.sandbox.state import State
from worker.sandbox.tokens import TokenStore
from worker.sandbox.window import SlidingWindow


@dataclass(frozen=True)
class SandboxConfig:
    """Start-up settings; ``POST /_sandbox/reset`` returns to exactly these."""

    rate_limit: int = 300
    window_s: float = 60.0
    token_ttl_s: float = 86400.0
    retry_after: bool = False
    customer_token: str = "sandbox"
    seed_file: str | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)


class Sandbox:
    """Holds the state, the limiter, the tokens, the faults and the call counters."""

    def __init__(
        self,
        config: SandboxConfig,
        seed: Seed,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.seed = seed
        self._now = now
        self.window = SlidingWindow(config.rate_limit, config.window_s, clock)
        self.tokens = TokenStore(config.token_ttl_s, clock)
        self.faults = FaultInjector(config.faults)
        self.state = State(seed, now)
        self.calls = 0
        self.calls_by_endpoint: Counter[str] = Counter()
        self.rate_limited = 0

    def reset(self) -> None:
        """Restore seeded data, counters, tokens, window and faults to start-up values."""
        self.state = State(self.seed, self._now)
        self.window.reset()
        self.tokens.reset()
        self.faults.reset(self.config.faults)
        self.calls = 0
        self.calls_by_endpoint.clear()
        self.rate_limited = 0

    def admit(self, endpoint: str) -> float | None:
        """Count a call at arrival: None if accepted, else seconds until the limit frees."""
        wait_s = self.window.try_acquire()
        if wait_s is not None:
            self.rate_limited += 1
            return wait_s
        self.calls += 1
        self.calls_by_endpoint[endpoint] += 1
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "calls_by_endpoint": dict(sorted(self.calls_by_endpoint.items())),
            "rate_limited": self.rate_limited,
            "max_calls_in_window": self.window.max_in_window,
            "tokens_issued": self.tokens.issued,
            "faults_injected": self.faults.stats(),
            **self.state.assignment_stats(),
        }
