"""The sandbox's sliding-window rate limit, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from worker.sandbox.window import SlidingWindow


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_accepts_up_to_the_limit_then_refuses(clock):
    window = SlidingWindow(3, 60, clock)

    assert [window.try_acquire() for _ in range(3)] == [None, None, None]
    assert window.try_acquire() == pytest.approx(60)


def test_refusal_tells_the_seconds_until_the_oldest_call_leaves_the_window(clock):
    window = SlidingWindow(2, 60, clock)
    window.try_acquire()
    clock.now += 10
    window.try_acquire()
    clock.now += 5

    assert window.try_acquire() == pytest.approx(45)


def test_a_call_exactly_window_s_after_another_is_in_a_new_window(clock):
    window = SlidingWindow(1, 60, clock)
    window.try_acquire()
    clock.now += 59.999
    assert window.try_acquire() is not None
    clock.now += 0.001
    assert window.try_acquire() is None


def test_refused_calls_consume_no_quota(clock):
    window = SlidingWindow(2, 60, clock)
    window.try_acquire()
    window.try_acquire()
    for _ in range(50):
        clock.now += 1
        assert window.try_acquire() is not None

    clock.now = 1060.0
    assert window.try_acquire() is None
    assert window.try_acquire() is None  # the second arrival at t=1000 left too


def test_the_window_slides_rather_than_resetting_on_fixed_boundaries(clock):
    window = SlidingWindow(4, 60, clock)
    clock.now = 1050.0
    for _ in range(4):
        assert window.try_acquire() is None
    clock.now = 1061.0  # a fixed-window limiter would have a fresh quota here
    assert window.try_acquire() is not None


def test_max_in_window_is_the_peak_of_accepted_calls_in_any_window(clock):
    window = SlidingWindow(10, 60, clock)
    for offset in (0, 20, 40):  # three calls within 60 s
        clock.now = 1000.0 + offset
        window.try_acquire()
    for offset in (70, 71):  # 20, 40, 70, 71 lie within one 60 s window
        clock.now = 1000.0 + offset
        window.try_acquire()
    clock.now = 2000.0
    window.try_acquire()

    assert window.max_in_window == 4
    assert window.in_window() == 1


def test_max_in_window_equals_the_limit_when_saturated(clock):
    window = SlidingWindow(5, 60, clock)
    for _ in range(20):
        window.try_acquire()
        clock.now += 1

    assert window.max_in_window == 5


def test_reset_forgets_arrivals_and_the_peak(clock):
    window = SlidingWindow(1, 60, clock)
    window.try_acquire()
    window.reset()

    assert window.max_in_window == 0
    assert window.try_acquire() is None


@pytest.mark.parametrize(("wait_s", "header"), [(0.001, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")])
def test_retry_after_header_rounds_up_to_whole_seconds(wait_s, header):
    assert SlidingWindow.retry_after_header(wait_s) == header


@pytest.mark.parametrize(("limit", "window_s"), [(0, 60), (1, 0)])
def test_rejects_a_limit_or_window_that_allows_nothing(limit, window_s):
    with pytest.raises(ValueError):
        SlidingWindow(limit, window_s)
