"""The broker topology of CONTRACT.md, declared idempotently.

What RabbitMQ can do is declared rather than coded: the work queue is a quorum queue with
a single active consumer; delayed retries wait in one quorum queue per delay whose
message TTL dead-letters them back to the work queue (at-least-once dead-lettering, so a
retry is never dropped on the way back). Works on RabbitMQ 3.10 (Debian 12) and 4.x.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue
from aiormq.exceptions import ChannelPreconditionFailed

__all__ = [
    "DEAD_QUEUE",
    "ENROLLED_KEY",
    "ENROLMENT_EXCHANGE",
    "PROGRAMME_EXCHANGE",
    "WORK_QUEUE",
    "Topology",
    "declare",
    "retry_queue_name",
]

log = structlog.get_logger(__name__)

ENROLMENT_EXCHANGE = "enrolment"
ENROLLED_KEY = "learner.enrolled"
WORK_QUEUE = "onefile-worker.enrolments"
DEAD_QUEUE = "onefile-worker.dead"
PROGRAMME_EXCHANGE = "programme"
ASSIGNED_KEY = "programme.assigned"
FAILED_KEY = "programme.assignment_failed"

WORK_QUEUE_ARGS = {"x-queue-type": "quorum", "x-single-active-consumer": True}
DEAD_QUEUE_ARGS = {"x-queue-type": "quorum"}


def retry_queue_name(delay_s: int) -> str:
    return f"onefile-worker.retry.{delay_s}s"


def retry_queue_args(delay_s: int) -> dict:
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": delay_s * 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": WORK_QUEUE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


@dataclass
class Topology:
    enrolment: AbstractExchange
    programme: AbstractExchange
    work_queue: AbstractQueue
    dead_queue: AbstractQueue
    retry_queues: dict[int, AbstractQueue]


async def _queue(connection: AbstractConnection, channel: AbstractChannel, name: str,
                 arguments: dict) -> AbstractQueue:
    """Declare ``name`` on ``channel``; if it exists with other arguments, use it as it is.

    The first try runs on a throwaway channel, because a failed declare closes its channel.
    """
    probe = await connection.channel()
    try:
        await probe.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as exc:
        log.warning("queue exists with other arguments; using it as it is",
                    queue=name, problem=str(exc))
        return await channel.declare_queue(name, passive=True)
    finally:
        if not probe.is_closed:
            await probe.close()
    return await channel.declare_queue(name, durable=True, arguments=arguments)


async def declare(connection: AbstractConnection, channel: AbstractChannel,
                  retry_delays_s: list[int]) -> Topology:
    """Declare every exchange, queue and binding; return them bound to ``channel``."""
    enrolment = await channel.declare_exchange(
        ENROLMENT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    programme = await channel.declare_exchange(
        PROGRAMME_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    work = await _queue(connection, channel, WORK_QUEUE, WORK_QUEUE_ARGS)
    await work.bind(enrolment, ENROLLED_KEY)
    dead = await _queue(connection, channel, DEAD_QUEUE, DEAD_QUEUE_ARGS)
    retries = {delay: await _queue(connection, channel, retry_queue_name(delay),
                                   retry_queue_args(delay))
               for delay in sorted(set(retry_delays_s))}
    return Topology(enrolment, programme, work, dead, retries)
