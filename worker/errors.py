"""What a failure means, decided once.

Every exception that crosses a module boundary is translated into this tree
(``raise X from exc``), and the consumer decides retry, dead-letter or pause from
the type alone::

    WorkerError
    ├── TransientError            try again later (5xx, timeouts, connection errors, 429)
    │   ├── AmbiguousError        an assign may or may not have taken effect: look before
    │   │                         assigning again (timeout, 5xx or reset after the request
    │   │                         may have reached Onefile)
    │   └── LedgerUnavailableError  the ledger's database did not answer (not Onefile's
    │                             fault: it does not count toward the Onefile circuit)
    ├── PermanentError            retrying cannot help: dead-letter with ``reason``
    │   ├── OnefileRejectedError  Onefile answered 400/403/404 (``onefile_rejected``)
    │   ├── InvalidMessageError   undecodable or invalid input (``invalid_message``)
    │   └── UnmappedCourseError   no mapping for the course code (``unmapped_course``)
    └── ConfigurationError        the worker itself is misconfigured (e.g. the customer
                                  token is rejected): stop consuming, report unready,
                                  never dead-letter messages for it

Exception texts never contain the customer token or a session token.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousError",
    "ConfigurationError",
    "InvalidMessageError",
    "LedgerUnavailableError",
    "OnefileRejectedError",
    "PermanentError",
    "TransientError",
    "UnmappedCourseError",
    "WorkerError",
]


class WorkerError(Exception):
    """Base of every error the worker raises on purpose."""


class TransientError(WorkerError):
    """A failure that may pass: retry later, without spending a dead-letter."""

    def __init__(self, message: str, *, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class AmbiguousError(TransientError):
    """A non-idempotent call failed after its request may have reached Onefile."""


class LedgerUnavailableError(TransientError):
    """The idempotency ledger's database could not be reached or timed out."""


class PermanentError(WorkerError):
    """Retrying cannot help; ``reason`` is the ``x-failure-reason`` to dead-letter with."""

    reason: str = "onefile_rejected"


class OnefileRejectedError(PermanentError):
    """Onefile answered 400, 403 or 404; carries the status and Onefile's own message."""

    reason = "onefile_rejected"

    def __init__(self, message: str, *, status_code: int, endpoint: str,
                 onefile_message: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.endpoint = endpoint
        self.onefile_message = onefile_message


class InvalidMessageError(PermanentError):
    """The message body cannot be decoded or does not match ``learner.enrolled``."""

    reason = "invalid_message"


class UnmappedCourseError(PermanentError):
    """The enrolment's course code has no entry in the mapping file."""

    reason = "unmapped_course"


class ConfigurationError(WorkerError):
    """The worker is misconfigured; consuming must stop rather than fail every message."""
