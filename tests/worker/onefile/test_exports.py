"""The package's public surface is pinned."""

from __future__ import annotations

import inspect

import worker.onefile as onefile
from worker.onefile import OnefileClient


def test_public_names_are_pinned() -> None:
    assert sorted(onefile.__all__) == [
        "CallJournal", "ClientStats", "FrameworkTemplate", "LearningAim", "OnefileAuth",
        "OnefileClient", "RateLimitedTransport", "SlidingWindowLimiter", "SlidingWindowLog",
        "Standard", "Unit", "UnitSummary", "User",
    ]
    assert all(hasattr(onefile, name) for name in onefile.__all__)


def test_client_constructor_keywords_are_pinned() -> None:
    params = inspect.signature(OnefileClient.__init__).parameters
    assert {name: p.default for name, p in params.items() if p.kind == p.KEYWORD_ONLY} == {
        "rate_limit_per_minute": 300, "timeout_s": 30.0, "page_size": 100, "max_attempts": 4,
        "max_429_wait_s": 300.0, "token_refresh_s": 23 * 3600, "transport": None,
        "backoff_base_s": 0.5, "backoff_max_s": 10.0, "window_s": 60.0, "journal": None,
    }


def test_client_methods_the_pipeline_uses_exist_and_are_coroutines() -> None:
    for name in ["search_framework_templates", "assign_framework_template", "search_standards",
                 "assign_standard", "search_units", "assign_unit", "search_learning_aims",
                 "search_unit_summaries", "search_users", "aclose", "__aenter__", "__aexit__"]:
        assert inspect.iscoroutinefunction(getattr(OnefileClient, name)), name
    assert inspect.isasyncgenfunction(OnefileClient.iter_pages)
