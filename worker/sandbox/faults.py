"""Fault injection: which API calls fail, and how, decided by a seeded random generator.

Each authenticated API call (every endpoint but ``Authentication``) draws exactly one number
``r`` from ``random.Random(random_seed)``, so a given sequence of calls meets the same faults
on every run and after every reset. The rates partition ``[0, 1)``::

    0 ── error_rate ── +timeout_rate ── +apply_then_fail_rate ──────── 1
      500, no effect    hang, then 500     500 after the effect (assigns)   normal answer

``apply_then_fail`` applies to assign endpoints only; a search drawing it answers normally.
A timed-out assign applies its effect when a second draw says so (probability 0.5), so the
caller cannot know. ``latency_ms`` delays every API call and ``down`` answers 503 to every
API call (``Authentication`` included) without drawing.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

#: Probability that a timed-out assign applied its effect before hanging.
TIMEOUT_APPLY_PROBABILITY = 0.5


class Fault(StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"
    APPLY_THEN_FAIL = "apply_then_fail"
    DOWN = "down"


class FaultConfigError(ValueError):
    """A fault setting has the wrong type or is out of range."""


_RATES = ("error_rate", "timeout_rate", "apply_then_fail_rate")


@dataclass(frozen=True)
class FaultConfig:
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    apply_then_fail_rate: float = 0.0
    latency_ms: float = 0.0
    hang_s: float = 30.0
    down: bool = False
    random_seed: int = 1234

    def __post_init__(self) -> None:
        for name in (*_RATES, "latency_ms", "hang_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultConfigError(f"{name} must be a number, got {value!r}")
            if value < 0:
                raise FaultConfigError(f"{name} must not be negative, got {value!r}")
        for name in _RATES:
            if getattr(self, name) > 1:
                raise FaultConfigError(f"{name} must be at most 1, got {getattr(self, name)!r}")
        if sum(getattr(self, name) for name in _RATES) > 1:
            raise FaultConfigError("error_rate + timeout_rate + apply_then_fail_rate exceeds 1")
        if not isinstance(self.down, bool):
            raise FaultConfigError(f"down must be true or false, got {self.down!r}")
        if isinstance(self.random_seed, bool) or not isinstance(self.random_seed, int):
            raise FaultConfigError(f"random_seed must be an integer, got {self.random_seed!r}")

    def with_changes(self, changes: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultConfigError(f"unknown fault setting(s): {', '.join(unknown)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Holds the current fault settings, the seeded generator and what was injected."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.random_seed)
        self.injected: Counter[Fault] = Counter()

    def configure(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply ``changes``; a ``random_seed`` among them restarts the random sequence."""
        self.config = self.config.with_changes(changes)
        if "random_seed" in changes:
            self._rng = random.Random(self.config.random_seed)
        return self.config

    def draw(self, *, assign: bool) -> Fault | None:
        """Decide the fault (if any) for one authenticated API call."""
        config = self.config
        r = self._rng.random()
        threshold = config.error_rate
        if r < threshold:
            return Fault.ERROR
        threshold += config.timeout_rate
        if r < threshold:
            return Fault.TIMEOUT
        threshold += config.apply_then_fail_rate
        if assign and r < threshold:
            return Fault.APPLY_THEN_FAIL
        return None

    def timed_out_call_applies(self) -> bool:
        return self._rng.random() < TIMEOUT_APPLY_PROBABILITY

    def record(self, fault: Fault) -> None:
        self.injected[fault] += 1

    def stats(self) -> dict[str, int]:
        return {fault.value: self.injected[fault] for fault in Fault}

    def reset(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.random_seed)
        self.injected.clear()
