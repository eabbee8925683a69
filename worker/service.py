"""``onefile-worker run``: connect, declare, consume, and stop cleanly.

Lifecycle: open the ledger and the Onefile client, serve health and metrics, connect to
RabbitMQ (retrying until it answers), declare the topology, consume. aio-pika's robust
connection restores the channel, queues and consumer after the broker drops us;
``/readyz`` says 503 meanwhile. On SIGTERM/SIGINT: cancel the consumer, let in-flight
deliveries finish within ``SHUTDOWN_GRACE_S``, cancel the rest (unacked, so the broker
hands them back), close everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from worker.assign import Assigner
from worker.circuit import Circuit, probe_delays_s
from worker.config import Settings
from worker.consume import Handler
from worker.errors import ConfigurationError, TransientError
from worker.health import HealthServer
from worker.ledger import Ledger, open_ledger
from worker.mapping import Mapping
from worker.metrics import CONSUMERS_ACTIVE, IN_FLIGHT, LAST_MESSAGE_TIMESTAMP
from worker.onefile import OnefileClient
from worker.publish import Publisher
from worker.topology import declare

__all__ = ["Service"]

log = structlog.get_logger(__name__)

RECONNECT_INTERVAL_S = 2.0


class Service:
    def __init__(self, settings: Settings, mapping: Mapping) -> None:
        self.settings = settings
        self.mapping = mapping
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.connection: AbstractRobustConnection | None = None
        self.queue: AbstractQueue | None = None
        self.consumer_tag: str | None = None
        self.paused: str | None = None
        # Down from a lost connection until aio-pika has restored channels and consumer
        # (its `connected` event is set before that restore, so it cannot tell).
        self.link_up = False
        # Calls an earlier active process made in the last minute still count at Onefile:
        # they are read from the ledger's journal before this process's first call after
        # becoming active (a standby's first delivery is its takeover) or reconnecting.
        self._counted_earlier_calls = False
        self._count_lock = asyncio.Lock()
        self.circuit = Circuit(settings.circuit_failure_threshold)
        self.client: OnefileClient | None = None
        self.ledger: Ledger | None = None
        self.handler: Handler | None = None
        self._probe: asyncio.Task | None = None

    # -- readiness ----------------------------------------------------------------------

    def readiness(self) -> str | None:
        if self.stopping.is_set():
            return "shutting down"
        if self.connection is None or not self.link_up or not self.connection.connected.is_set():
            return "not connected to RabbitMQ"
        if self.paused:
            return self.paused
        if self.circuit.is_open:
            return "Onefile circuit open: consumption paused"
        if self.consumer_tag is None:
            return "no consumer registered on the work queue"
        return None

    # -- lifecycle ----------------------------------------------------------------------

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested; finishing in-flight messages")
            self.stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        s = self.settings
        self.ledger = await open_ledger(s.ledger_url)
        self.client = OnefileClient(
            s.onefile_base_url, s.onefile_customer_token,
            rate_limit_per_minute=s.onefile_rate_limit_per_minute,
            timeout_s=s.onefile_timeout_s, page_size=s.onefile_page_size, journal=self.ledger)
        health = HealthServer(s.metrics_port, self.readiness)
        await health.start()
        try:
            if await self._connect():
                await self._start_consuming()
                await self.stopping.wait()
        finally:
            await self._shutdown()
            await health.stop()

    async def _connect(self) -> bool:
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self.connection = await aio_pika.connect_robust(
                    self.settings.amqp_url, timeout=10, reconnect_interval=RECONNECT_INTERVAL_S,
                    client_properties={"connection_name": connection_name()})
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                log.warning("RabbitMQ is not reachable; retrying",
                            error=str(exc) or type(exc).__name__, retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
                delay = min(delay * 2, 30.0)
                continue
            self.connection.reconnect_callbacks.add(self._on_reconnect)
            self.connection.close_callbacks.add(self._on_connection_lost)
            return True
        return False

    def _on_connection_lost(self, *_: object) -> None:
        CONSUMERS_ACTIVE.set(0)
        if self.link_up and not self.stopping.is_set():
            log.warning("connection to RabbitMQ lost; reconnecting")
        self.link_up = False

    def _on_reconnect(self, *_: object) -> None:
        CONSUMERS_ACTIVE.set(1 if self.consumer_tag else 0)
        self.link_up = True
        self._counted_earlier_calls = False
        log.info("reconnected to RabbitMQ; consumer restored")

    async def _start_consuming(self) -> None:
        assert self.connection and self.ledger and self.client
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.settings.prefetch)
        topology = await declare(self.connection, channel, self.settings.retry_delays)
        self.handler = Handler(
            mapping=self.mapping,
            assigner=Assigner(self.client, self.ledger),
            ledger=self.ledger,
            publisher=Publisher(channel, topology),
            retry_delays_s=self.settings.retry_delays,
            circuit=self.circuit,
        )
        self.queue = topology.work_queue
        self.link_up = True
        await self._consume()
        log.info("consuming enrolments", queue=self.queue.name, prefetch=self.settings.prefetch)

    async def _consume(self) -> None:
        assert self.queue is not None
        self.consumer_tag = await self.queue.consume(self._on_message)
        CONSUMERS_ACTIVE.set(1)

    async def _stop_consuming(self) -> None:
        if self.queue is not None and self.consumer_tag is not None:
            tag, self.consumer_tag = self.consumer_tag, None
            CONSUMERS_ACTIVE.set(0)
            with contextlib.suppress(Exception):
                await self.queue.cancel(tag)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.create_task(self._settle(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _settle(self, message: AbstractIncomingMessage) -> None:
        assert self.handler is not None
        IN_FLIGHT.inc()
        LAST_MESSAGE_TIMESTAMP.set_to_current_time()
        try:
            await self._count_earlier_calls()
            await self.handler.handle(message)
        except ConfigurationError as exc:
            await self._hand_back(message)
            if not self.paused:
                self.paused = f"configuration problem: {exc}"
                log.error("pausing consumption: the worker is misconfigured; "
                          "checking again with backoff", error=str(exc))
        except Exception:
            log.exception("could not settle a message; handing it back",
                          message_id=message.message_id)
            await self._hand_back(message)
        finally:
            IN_FLIGHT.dec()
        if (self.circuit.is_open or self.paused) and self._probe is None \
                and not self.stopping.is_set():
            self._probe = asyncio.create_task(self._probe_until_healthy())

    async def _count_earlier_calls(self) -> None:
        assert self.client is not None
        async with self._count_lock:
            if self._counted_earlier_calls:
                return
            earlier = await self.client.count_earlier_calls()
            self._counted_earlier_calls = True
        if earlier:
            log.info("counting Onefile calls made in the last minute by an earlier process",
                     calls=earlier, limit=self.settings.onefile_rate_limit_per_minute)

    @staticmethod
    async def _hand_back(message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(Exception):
            await message.nack(requeue=True)

    async def _probe_until_healthy(self) -> None:
        """Paused (circuit open or token rejected): no consumer, one cheap call per backoff
        step until Onefile answers and accepts the token again."""
        assert self.client is not None
        await self._stop_consuming()
        try:
            for delay in _forever(probe_delays_s(self.settings.circuit_probe_max_s)):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
                if self.stopping.is_set():
                    return
                try:
                    await self.client.search_framework_templates(title="onefile-worker probe")
                except TransientError as exc:
                    log.warning("Onefile still failing", error=str(exc), retry_in_s=delay)
                    continue
                except ConfigurationError as exc:
                    log.warning("Onefile still rejects the configuration", error=str(exc),
                                retry_in_s=delay)
                    continue
                except Exception as exc:  # an answer, even a rejection, means Onefile is up
                    log.info("Onefile answered the probe", answer=type(exc).__name__)
                self.circuit.close()
                if self.paused:
                    log.info("configuration accepted again; resuming consumption")
                    self.paused = None
                await self._consume()
                return
        finally:
            self._probe = None

    async def _shutdown(self) -> None:
        self.stopping.set()
        await self._stop_consuming()
        if self._probe is not None:
            self._probe.cancel()
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks),
                                            timeout=self.settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("grace period over; unfinished messages go back to the queue",
                            count=len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.close(), 5)
        if self.client is not None:
            await self.client.aclose()
        if self.ledger is not None:
            await self.ledger.close()
        log.info("stopped")


def connection_name() -> str:
    """How this process shows in RabbitMQ's connection list."""
    return f"onefile-worker {socket.gethostname()} pid {os.getpid()}"


def _forever(delays: list[float]):
    yield from delays
    while True:
        yield delays[-1]
