"""Fault injection decisions: seeded, partitioned by rate, validated."""

from __future__ import annotations

import pytest

from worker.sandbox.faults import Fault, FaultConfig, FaultConfigError, FaultInjector


def draws(injector: FaultInjector, n: int, *, assign: bool) -> list[Fault | None]:
    return [injector.draw(assign=assign) for _ in range(n)]


def test_the_same_seed_gives_the_same_faults():
    config = FaultConfig(error_rate=0.2, timeout_rate=0.2, apply_then_fail_rate=0.2)

    first = draws(FaultInjector(config), 200, assign=True)
    second = draws(FaultInjector(config), 200, assign=True)

    assert first == second
    assert set(first) == {None, Fault.ERROR, Fault.TIMEOUT, Fault.APPLY_THEN_FAIL}


def test_rates_set_the_share_of_each_fault():
    config = FaultConfig(error_rate=0.1, timeout_rate=0.2, apply_then_fail_rate=0.3)
    faults = draws(FaultInjector(config), 10_000, assign=True)

    assert faults.count(Fault.ERROR) == pytest.approx(1000, rel=0.1)
    assert faults.count(Fault.TIMEOUT) == pytest.approx(2000, rel=0.1)
    assert faults.count(Fault.APPLY_THEN_FAIL) == pytest.approx(3000, rel=0.1)


def test_searches_never_draw_apply_then_fail():
    faults = draws(FaultInjector(FaultConfig(apply_then_fail_rate=1.0)), 100, assign=False)

    assert faults == [None] * 100


def test_zero_rates_inject_nothing():
    assert draws(FaultInjector(FaultConfig()), 100, assign=True) == [None] * 100


def test_configuring_a_random_seed_restarts_the_sequence():
    config = FaultConfig(error_rate=0.5, random_seed=7)
    injector = FaultInjector(config)
    first = draws(injector, 50, assign=False)
    injector.configure({"random_seed": 7})

    assert draws(injector, 50, assign=False) == first


def test_reset_restores_settings_sequence_and_counts():
    config = FaultConfig(error_rate=0.5)
    injector = FaultInjector(config)
    first = draws(injector, 20, assign=False)
    injector.configure({"error_rate": 0.0, "down": True})
    injector.record(Fault.DOWN)
    injector.reset(config)

    assert injector.config == config
    assert injector.stats() == {"error": 0, "timeout": 0, "apply_then_fail": 0, "down": 0}
    assert draws(injector, 20, assign=False) == first


@pytest.mark.parametrize(
    "changes",
    [
        {"error_rate": 1.5},
        {"timeout_rate": -0.1},
        {"error_rate": 0.6, "timeout_rate": 0.6},
        {"latency_ms": "fast"},
        {"down": "yes"},
        {"random_seed": 1.5},
        {"hang_s": True},
        {"no_such_setting": 1},
    ],
)
def test_invalid_settings_are_refused_and_leave_the_config_unchanged(changes):
    injector = FaultInjector(FaultConfig())
    with pytest.raises(FaultConfigError):
        injector.configure(changes)

    assert injector.config == FaultConfig()
