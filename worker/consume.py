"""One delivery, start to finish: decode, assign, publish the outcome, then ack.

What a failure means comes from its type alone (``worker.errors``): permanent errors are
dead-lettered with their reason, transient ones wait in a broker-side delay queue until
attempts run out, configuration errors stop consumption. Nothing is acked before its
outcome is publish-confirmed.
"""

from __future__ import annotations

import time
from enum import StrEnum

import structlog
from aio_pika.abc import AbstractIncomingMessage

from messages import (
    DecodeError,
    LearnerEnrolled,
    ProgrammeAssigned,
    ProgrammeAssignmentFailed,
    assigned_event_id,
    decode_enrolment,
    failed_event_id,
    peek_enrolment,
)
from worker.assign import Assigner
from worker.circuit import Circuit
from worker.errors import (
    ConfigurationError,
    InvalidMessageError,
    LedgerUnavailableError,
    PermanentError,
    TransientError,
    UnmappedCourseError,
)
from worker.ledger import Ledger
from worker.mapping import Mapping
from worker.metrics import DEAD_LETTERS, MESSAGE_SECONDS, MESSAGES, REPLAYS, RETRIES_SCHEDULED
from worker.publish import Publisher, attempt_of
from worker.topology import ASSIGNED_KEY, FAILED_KEY

__all__ = ["Handler", "Outcome"]

log = structlog.get_logger(__name__)


class Outcome(StrEnum):
    ASSIGNED = "assigned"
    ALREADY_ASSIGNED = "already_assigned"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"


class Handler:
    """Turns one delivery into exactly one outcome; the caller only schedules it."""

    def __init__(self, *, mapping: Mapping, assigner: Assigner, ledger: Ledger,
                 publisher: Publisher, retry_delays_s: list[int], circuit: Circuit) -> None:
        self.mapping = mapping
        self.assigner = assigner
        self.ledger = ledger
        self.publisher = publisher
        self.retry_delays_s = list(retry_delays_s)
        self.circuit = circuit

    async def handle(self, message: AbstractIncomingMessage) -> Outcome:
        started = time.monotonic()
        attempts = attempt_of(message)
        if attempts == 1 and (message.headers or {}).get("x-replays"):
            REPLAYS.inc()  # counted here, where Prometheus scrapes, not in the dlq CLI
        try:
            outcome = await self._process(message, attempts)
        except PermanentError as exc:
            outcome = await self._dead_letter(message, exc.reason, str(exc), attempts)
        except ConfigurationError:
            raise
        except TransientError as exc:
            if not isinstance(exc, LedgerUnavailableError) and self.circuit.record_failure():
                # An outage, not this message's fault: hand it back without an attempt spent.
                log.warning("Onefile is failing; message handed back to the queue",
                            error=str(exc), outcome="retried", **_peek_ctx(message))
                await message.nack(requeue=True)
                MESSAGES.labels(Outcome.RETRIED.value).inc()
                return Outcome.RETRIED
            outcome = await self._retry_or_give_up(message, exc, attempts)
        except Exception as exc:  # a bug must not lose the message or crash the worker
            log.exception("unexpected error while processing; will retry later",
                          message_id=message.message_id)
            outcome = await self._retry_or_give_up(message, exc, attempts)
        await message.ack()
        MESSAGES.labels(outcome.value).inc()
        MESSAGE_SECONDS.labels(outcome.value).observe(time.monotonic() - started)
        return outcome

    async def _process(self, message: AbstractIncomingMessage, attempts: int) -> Outcome:
        try:
            enrolment = decode_enrolment(message.body)
        except DecodeError as exc:
            raise InvalidMessageError(exc.detail) from exc
        ctx = {"event_id": enrolment.event_id, "learner_id": enrolment.learner_id,
               "course_code": enrolment.course_code, "attempt": attempts}
        stored = await self.ledger.published(enrolment.event_id)
        if stored is None:
            plan = self.mapping.plan_for(enrolment.course_code)
            if plan is None:
                raise UnmappedCourseError(
                    f"course code {enrolment.course_code!r} is not in the mapping file")
            log.info("assigning the course to the learner", **ctx)
            record = await self.assigner.assign(
                enrolment.event_id, enrolment.learner_id, enrolment.course_code, plan)
            self.circuit.record_success()
            stored = await self.ledger.remember_published(
                enrolment.event_id, self._result(enrolment, record).to_bytes())
        else:
            log.info("event already processed; republishing its result", **ctx)
        already = ProgrammeAssigned.model_validate_json(stored).already_assigned
        await self.publisher.event(stored, ASSIGNED_KEY,
                                   message_id=assigned_event_id(enrolment.event_id),
                                   correlation_id=enrolment.event_id)
        outcome = Outcome.ALREADY_ASSIGNED if already else Outcome.ASSIGNED
        log.info("course assigned" if not already else
                 "course was already assigned to the learner; nothing assigned again",
                 outcome=outcome.value, **ctx)
        return outcome

    @staticmethod
    def _result(enrolment: LearnerEnrolled, record: object) -> ProgrammeAssigned:
        return ProgrammeAssigned.for_enrolment(
            enrolment,
            framework_template_id=record.framework_template_id,
            learning_aim_ids=record.learning_aim_ids,
            unit_summary_ids=record.unit_summary_ids,
            already_assigned=record.event_id != enrolment.event_id,
        )

    async def _retry_or_give_up(self, message: AbstractIncomingMessage, exc: BaseException,
                                attempts: int) -> Outcome:
        detail = f"{type(exc).__name__}: {exc}"
        if attempts > len(self.retry_delays_s):
            return await self._dead_letter(message, "retries_exhausted", detail, attempts)
        delay = self.retry_delays_s[attempts - 1]
        await self.publisher.retry_later(message, delay_s=delay, next_attempt=attempts + 1,
                                         detail=detail)
        RETRIES_SCHEDULED.labels(delay_s=str(delay)).inc()
        log.warning("transient failure; retrying later", message_id=message.message_id,
                    attempt=attempts, retry_in_s=delay, error=detail, outcome="retried",
                    **_peek_ctx(message))
        return Outcome.RETRIED

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str, detail: str,
                           attempts: int) -> Outcome:
        await self.publisher.dead_letter(message, reason=reason, detail=detail, attempts=attempts)
        event = ProgrammeAssignmentFailed.for_body(
            message.body, reason=reason, detail=detail, attempts=attempts)
        replays = (message.headers or {}).get("x-replays")
        if replays:
            event = event.model_copy(update={"event_id": failed_event_id(
                f"{event.causation_id}#replay{replays}", message.body)})
        await self.publisher.event(event.to_bytes(), FAILED_KEY, message_id=event.event_id,
                                   correlation_id=event.causation_id)
        DEAD_LETTERS.labels(reason=reason).inc()
        log.warning("message dead-lettered", reason=reason, detail=detail, attempt=attempts,
                    outcome="dead_lettered", **_peek_ctx(message))
        return Outcome.DEAD_LETTERED


def _peek_ctx(message: AbstractIncomingMessage) -> dict:
    peek = peek_enrolment(message.body)
    return {k: peek.get(k) for k in ("event_id", "learner_id", "course_code")}
