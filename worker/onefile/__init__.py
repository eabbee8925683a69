"""Async client for the Onefile API v2.1 (see shared/design/ONEFILE_API.md).

``OnefileClient`` is the whole surface the pipeline needs; the models are what its
searches return. Errors raised are those of :mod:`worker.errors`.
"""

from __future__ import annotations

from worker.onefile.auth import OnefileAuth
from worker.onefile.client import ClientStats, OnefileClient
from worker.onefile.models import (
    FrameworkTemplate,
    LearningAim,
    Standard,
    Unit,
    UnitSummary,
    User,
)
from worker.onefile.ratelimit import (
    CallJournal,
    RateLimitedTransport,
    SlidingWindowLimiter,
    SlidingWindowLog,
)

__all__ = [
    "CallJournal",
    "ClientStats",
    "FrameworkTemplate",
    "LearningAim",
    "OnefileAuth",
    "OnefileClient",
    "RateLimitedTransport",
    "SlidingWindowLimiter",
    "SlidingWindowLog",
    "Standard",
    "Unit",
    "UnitSummary",
    "User",
]
