"""Everything the worker publishes, each publish-confirmed before the caller acks.

Result events go to the ``programme`` exchange; dead letters and delayed retries go
through the default exchange straight to their queues, carrying the original body
byte-for-byte and the original properties.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from worker.metrics import UNROUTABLE_EVENTS
from worker.topology import DEAD_QUEUE, Topology, retry_queue_name

__all__ = ["Publisher", "attempt_of", "copy_headers"]

log = structlog.get_logger(__name__)

# Headers RabbitMQ owns: a copy must not carry them, or 4.x refuses/ignores them.
_BROKER_HEADERS = ("x-death", "x-delivery-count", "x-acquired-count", "x-first-death-exchange",
                   "x-first-death-queue", "x-first-death-reason", "x-last-death-exchange",
                   "x-last-death-queue", "x-last-death-reason")
DETAIL_MAX_CHARS = 1000
#: How long a publish may wait for the broker's confirm before it counts as failed (a broker
#: under a memory alarm blocks publishers; the delivery is then handed back, not lost).
CONFIRM_TIMEOUT_S = 30.0


def attempt_of(message: AbstractIncomingMessage) -> int:
    """The delivery attempt this is, from ``x-attempts`` (1 when absent or unreadable)."""
    value = (message.headers or {}).get("x-attempts")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        attempts = int(value) if value is not None else 1
    except (TypeError, ValueError):
        return 1
    return max(attempts, 1)


def copy_headers(message: AbstractIncomingMessage, **updates: object) -> dict:
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _BROKER_HEADERS}
    headers.update(updates)
    return headers


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Publisher:
    def __init__(self, channel: AbstractChannel, topology: Topology) -> None:
        self.channel = channel
        self.topology = topology
        channel.return_callbacks.add(self._on_return)

    def _on_return(self, _channel: object, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        UNROUTABLE_EVENTS.labels(routing_key=message.routing_key or "").inc()
        log.warning("event was unroutable: no queue is bound for it",
                    exchange=message.exchange, routing_key=message.routing_key,
                    message_id=message.message_id)

    async def event(self, body: bytes, routing_key: str, *, message_id: str,
                    correlation_id: str | None) -> None:
        """Publish a result event to the ``programme`` exchange and wait for its confirm."""
        await self.topology.programme.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                correlation_id=correlation_id,
                type=routing_key,
                timestamp=datetime.now(UTC),
            ),
            routing_key=routing_key,
            mandatory=True,
            timeout=CONFIRM_TIMEOUT_S,
        )

    def _copy(self, message: AbstractIncomingMessage, headers: dict) -> aio_pika.Message:
        return aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            timestamp=message.timestamp,
            app_id=message.app_id,
            user_id=None,
        )

    async def dead_letter(self, message: AbstractIncomingMessage, *, reason: str, detail: str,
                          attempts: int) -> None:
        """Copy the message, byte-for-byte, to the dead-letter queue with its reason."""
        headers = copy_headers(
            message,
            **{
                "x-failure-reason": reason,
                "x-failure-detail": detail[:DETAIL_MAX_CHARS],
                "x-attempts": attempts,
                "x-first-failed-at": (message.headers or {}).get("x-first-failed-at")
                or _now_iso(),
                "x-dead-lettered-at": _now_iso(),
                "x-original-exchange": message.exchange or "",
                "x-original-routing-key": message.routing_key or "",
            },
        )
        await self.channel.default_exchange.publish(
            self._copy(message, headers), routing_key=DEAD_QUEUE, mandatory=True,
            timeout=CONFIRM_TIMEOUT_S)

    async def retry_later(self, message: AbstractIncomingMessage, *, delay_s: int,
                          next_attempt: int, detail: str) -> None:
        """Park the message in the broker-side delay queue for ``delay_s``."""
        headers = copy_headers(
            message,
            **{
                "x-attempts": next_attempt,
                "x-last-error": detail[:DETAIL_MAX_CHARS],
                "x-first-failed-at": (message.headers or {}).get("x-first-failed-at")
                or _now_iso(),
            },
        )
        await self.channel.default_exchange.publish(
            self._copy(message, headers), routing_key=retry_queue_name(delay_s), mandatory=True,
            timeout=CONFIRM_TIMEOUT_S)
