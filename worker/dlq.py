"""``dlq list`` and ``dlq replay``: read and move dead letters without ever losing one.

Both commands make one ordered *pass* over the head of ``onefile-worker.dead``: they
consume with manual acks and stop after the messages that were there at the start
(passive declare gives the count), or when none arrives for ``IDLE_TIMEOUT_S`` (another
consumer took the rest). A message the pass does not move is *kept*, in one of two ways:

``peek`` (RabbitMQ 3.x)
    Hold it unacked and never ack it; closing the channel hands every held delivery back,
    and a quorum queue puts returned messages back at its head in their original order
    (the tests pin this; a basic.cancel first would not, see ``_Pass``).
    Nothing leaves the queue, so a kill at any line loses nothing and duplicates nothing.
    Each return adds one to the message's ``x-delivery-count``. 3.x quorum queues have no
    delivery limit unless an operator sets one, so this is harmless there; as a guard
    against such a policy, a listing that sees a count of ``ROTATE_AT_DELIVERY_COUNT`` or
    more runs once more as a rotation (below), which resets every count.

``rotate`` (RabbitMQ 4.x or an unknown version, or more than ``MAX_PEEK`` messages)
    On RabbitMQ 4.0 to 4.2 every return counts towards a quorum queue's delivery limit,
    which defaults to 20 there, and the dead-letter queue has nowhere to dead-letter to:
    the 21st ``dlq list`` would silently *drop* messages. (4.3 counts only failed
    deliveries, but a consumer going away may still count as one.) So there, a kept
    message is copied to the tail of the queue, byte-for-byte with its properties and
    headers (less the ones the broker owns), publish-confirmed, and only then acked: every
    copy starts with a fresh delivery count. The pass always covers every message that was
    there at the start, so afterwards the queue is in its original order again.
    Trade-offs: a kill between a confirm and its ack leaves a duplicate (never a loss); a
    kill mid-pass leaves the queue rotated part-way (order changed, nothing lost); a
    message dead-lettered during the pass lands among the copies rather than after them;
    a message without a ``message_id`` gets one; and every listing rewrites the queue.

``dlq replay`` moves each selected message to ``onefile-worker.enrolments`` via the default
exchange (persistent, mandatory, publish-confirmed) with its failure headers removed and
``x-replays`` counted up, and acks it off the dead-letter queue only after the confirm:
killed mid-way, every message is in the work queue, in the dead-letter queue, or (between
confirm and ack) in both, which the worker's ledger absorbs. Copies are published in
delivery order through a window of ``CONFIRM_WINDOW`` unconfirmed publishes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aiormq.exceptions import ChannelNotFoundEntity

from worker.publish import copy_headers
from worker.topology import DEAD_QUEUE, WORK_QUEUE

__all__ = [
    "DeadLetter",
    "list_dead_letters",
    "peek_is_safe",
    "print_dead_letters",
    "replay_dead_letters",
]

Strategy = Literal["auto", "peek", "rotate"]

CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 2.0  # a pass ends early when the queue stays quiet this long
SETTLE_TIMEOUT_S = 5.0  # how long a pass waits for the broker to put back what it held
SETTLE_POLL_S = 0.02
CONFIRM_WINDOW = 256  # unconfirmed copies in flight at once
CONFIRM_TIMEOUT_S = 30.0  # a blocked broker (memory alarm) stops the pass, nothing lost
MAX_PEEK = 65_535  # prefetch_count is 16 bits: a deeper queue is rotated, never peeked
ROTATE_AT_DELIVERY_COUNT = 10
DETAIL_COLUMN_CHARS = 60

# Headers the broker sets on delivery (read for the delivery count; copy_headers drops them).
_DELIVERY_HEADERS = ("x-delivery-count", "x-acquired-count")
# What made it a dead letter: a replay starts afresh without them.
_FAILURE_HEADERS = ("x-failure-reason", "x-failure-detail", "x-attempts",
                    "x-first-failed-at", "x-dead-lettered-at", "x-last-error")


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _int(value: object, default: int | None = None) -> int | None:
    try:
        return int(_text(value)) if value is not None else default  # type: ignore[arg-type]
    except ValueError:
        return default


def _event_id(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return event_id if isinstance(event_id, str) and event_id else None


@dataclass(frozen=True)
class DeadLetter:
    event_id: str | None
    reason: str | None
    detail: str | None
    attempts: int | None
    first_failed_at: str | None
    dead_lettered_at: str | None
    replays: int
    size_bytes: int
    body: bytes = field(repr=False)
    headers: dict[str, Any] = field(repr=False)

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers = {k: v for k, v in (message.headers or {}).items()
                   if k not in _DELIVERY_HEADERS}
        return cls(
            event_id=_event_id(message.body),
            reason=_text(headers.get("x-failure-reason")),
            detail=_text(headers.get("x-failure-detail")),
            attempts=_int(headers.get("x-attempts")),
            first_failed_at=_text(headers.get("x-first-failed-at")),
            dead_lettered_at=_text(headers.get("x-dead-lettered-at")),
            replays=_int(headers.get("x-replays"), 0) or 0,
            size_bytes=len(message.body),
            body=message.body,
            headers=headers,
        )

    def as_json(self) -> dict[str, Any]:
        try:
            body, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {"event_id": self.event_id, "reason": self.reason, "detail": self.detail,
                "attempts": self.attempts, "first_failed_at": self.first_failed_at,
                "dead_lettered_at": self.dead_lettered_at, "replays": self.replays,
                "size_bytes": self.size_bytes, "body": body, "body_encoding": encoding,
                "headers": self.headers}


def peek_is_safe(server_version: str | None) -> bool:
    """True on RabbitMQ 3.x, where returning a message cannot make the broker drop it."""
    try:
        return int(str(server_version).split(".")[0]) == 3
    except ValueError:
        return False


def _delivery_count(message: AbstractIncomingMessage) -> int:
    headers = message.headers or {}
    return max(_int(headers.get(name), 0) or 0 for name in _DELIVERY_HEADERS)


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The message again, body byte-for-byte. Not copied: ``user_id`` (the broker checks it
    against the connection's user) and ``expiration`` (a TTL would let a copy vanish)."""
    return aio_pika.Message(
        message.body, headers=headers, content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT, priority=message.priority,
        correlation_id=message.correlation_id, reply_to=message.reply_to,
        message_id=message.message_id, timestamp=message.timestamp, type=message.type,
        app_id=message.app_id)


def _replay_headers(message: AbstractIncomingMessage, replays: int) -> dict[str, Any]:
    headers = copy_headers(message, **{"x-replays": replays + 1})
    for name in _FAILURE_HEADERS:  # copy_headers already drops the broker's own
        headers.pop(name, None)
    return headers


class _Pass:
    """One ordered pass over the first ``count`` messages of the dead-letter queue.

    It never sends basic.cancel: on RabbitMQ 3.10 the unacked messages of a cancelled
    quorum-queue consumer come back out of order, or twice. The price, in a rotation: as
    acks free prefetch slots, the broker hands over up to one window of the fresh copies,
    which go back to the head when the channel closes, with a delivery count of 1 that
    the next pass resets again.
    """

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue, work_queue: str, *,
                 count: int, rotate: bool) -> None:
        self.channel = channel
        self.queue = queue
        self.work_queue = work_queue
        self.count = count
        self.rotate = rotate
        self.received = 0
        self.moved = 0
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._window = asyncio.Semaphore(CONFIRM_WINDOW)
        self._pending: set[asyncio.Task[None]] = set()
        self._failure: Exception | None = None

    async def next(self) -> AbstractIncomingMessage | None:
        """The next message, or None at the end of the pass."""
        self._raise_failure()
        if self.received >= self.count:
            return None
        try:
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                message = await self.inbox.get()
        except TimeoutError:
            if self.channel.is_closed:  # not the end of the queue: say so, don't truncate
                raise RuntimeError("the broker closed the channel mid-way") from None
            return None
        self.received += 1
        return message

    async def keep(self, message: AbstractIncomingMessage) -> None:
        """Leave it in the dead-letter queue: held unacked, or copied to the tail."""
        if self.rotate:
            await self._copy_then_ack(message, self.queue.name, copy_headers(message),
                                      moving=False)

    async def move(self, message: AbstractIncomingMessage, replays: int) -> None:
        await self._copy_then_ack(message, self.work_queue,
                                  _replay_headers(message, replays), moving=True)

    async def _copy_then_ack(self, message: AbstractIncomingMessage, routing_key: str,
                             headers: dict[str, Any], *, moving: bool) -> None:
        # Tasks start in creation order and aiormq sends publishes under a FIFO lock, so
        # the copies leave in delivery order while up to CONFIRM_WINDOW await confirms.
        await self._window.acquire()
        task = asyncio.create_task(self._publish(message, routing_key, headers, moving))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, message: AbstractIncomingMessage, routing_key: str,
                       headers: dict[str, Any], moving: bool) -> None:
        try:
            await self.channel.default_exchange.publish(
                _copy(message, headers), routing_key=routing_key, mandatory=True,
                timeout=CONFIRM_TIMEOUT_S)
            await message.ack()
        except Exception as exc:  # reported by next() or finish(); the original stays
            self._failure = self._failure or exc
            return
        finally:
            self._window.release()
        if moving:
            self.moved += 1

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def finish(self) -> None:
        """Wait for every copy's confirm and ack."""
        await asyncio.gather(*self._pending)
        self._raise_failure()

    async def abandon(self) -> None:
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)


async def _depth(connection: AbstractConnection, name: str) -> int | None:
    """Messages ready in ``name``, or None when there is no such queue."""
    probe = await connection.channel()
    try:
        queue = await probe.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return None
    finally:
        if not probe.is_closed:
            await probe.close()
    return queue.declaration_result.message_count or 0


def _rotates(connection: AbstractConnection, strategy: Strategy, count: int) -> bool:
    if strategy != "auto":
        return strategy == "rotate"
    version = _text(connection.transport.connection.server_properties.get("version"))
    return count > MAX_PEEK or not peek_is_safe(version)


@asynccontextmanager
async def _connect(amqp_url: str) -> AsyncIterator[AbstractConnection]:
    connection = await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT_S)
    try:
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def _pass(connection: AbstractConnection, dead_queue: str, work_queue: str, *,
                count: int, rotate: bool) -> AsyncIterator[_Pass]:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    # Peeking holds every message of the pass, so the prefetch must cover them all.
    prefetch = min(count, CONFIRM_WINDOW if rotate else MAX_PEEK)
    walk: _Pass | None = None
    try:
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(dead_queue, passive=True)
        walk = _Pass(channel, queue, work_queue, count=count, rotate=rotate)
        await queue.consume(walk.inbox.put)
        yield walk
        await walk.finish()
    finally:
        if walk is not None:
            await walk.abandon()
        # Closing hands back every delivery still unacked, in delivery order.
        if not channel.is_closed:
            await channel.close()
    await _settle(connection, dead_queue, count - walk.moved)


async def _settle(connection: AbstractConnection, name: str, expected: int) -> None:
    """Wait until the broker has put back what the closed channel held (it does so a few
    milliseconds later), so that the next command, which counts only ready messages,
    sees them all. Gives up quietly: others may be consuming too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    while loop.time() < deadline:
        if (await _depth(connection, name) or 0) >= expected:
            return
        await asyncio.sleep(SETTLE_POLL_S)  # the broker gives no event for this


async def _list_once(connection: AbstractConnection, dead_queue: str, count: int, *,
                     rotate: bool, wanted: Callable[[DeadLetter], bool],
                     limit: int | None) -> tuple[list[DeadLetter], int]:
    letters: list[DeadLetter] = []
    worn = 0
    async with _pass(connection, dead_queue, WORK_QUEUE, count=count, rotate=rotate) as walk:
        while (message := await walk.next()) is not None:
            letter = DeadLetter.from_message(message)
            worn = max(worn, _delivery_count(message))
            if wanted(letter) and (limit is None or len(letters) < limit):
                letters.append(letter)
            await walk.keep(message)
            if not rotate and limit is not None and len(letters) >= limit:
                break  # the rest was never touched
    return letters, worn


async def list_dead_letters(amqp_url: str, *, reason: str | None = None,
                            limit: int | None = None, strategy: Strategy = "auto",
                            dead_queue: str = DEAD_QUEUE) -> list[DeadLetter]:
    """The dead letters, oldest first, leaving every one in place (see the module docstring).

    ``strategy`` ``auto`` peeks on RabbitMQ 3.x and rotates on anything else.
    """
    def wanted(letter: DeadLetter) -> bool:
        return reason is None or letter.reason == reason

    async with _connect(amqp_url) as connection:
        count = await _depth(connection, dead_queue)
        if not count:
            return []
        rotate = _rotates(connection, strategy, count)
        letters, worn = await _list_once(connection, dead_queue, count, rotate=rotate,
                                         wanted=wanted, limit=limit)
        if not rotate and strategy == "auto" and worn >= ROTATE_AT_DELIVERY_COUNT:
            count = await _depth(connection, dead_queue) or 0
            letters, _ = await _list_once(connection, dead_queue, count, rotate=True,
                                          wanted=wanted, limit=limit)
        return letters


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return _text(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def print_dead_letters(letters: list[DeadLetter], *, as_json: bool = False) -> None:
    """A table, or with ``as_json`` one JSON object a line; nothing at all when empty."""
    if not letters:
        return
    if as_json:
        for letter in letters:
            sys.stdout.write(json.dumps(letter.as_json(), default=_jsonable,
                                        ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(caption=f"{len(letters)} dead letter(s), oldest first")
    for name in ("event_id", "reason", "detail", "attempts", "first failed at", "replays"):
        table.add_column(name, no_wrap=name != "detail",
                         justify="right" if name in ("attempts", "replays") else "left")
    for letter in letters:
        detail = letter.detail or ""
        if len(detail) > DETAIL_COLUMN_CHARS:
            detail = detail[:DETAIL_COLUMN_CHARS - 1] + "…"
        table.add_row(letter.event_id or "(unreadable)", letter.reason or "", detail,
                      "" if letter.attempts is None else str(letter.attempts),
                      letter.first_failed_at or "", str(letter.replays))
    console = Console()
    if not console.is_terminal:
        console.width = 200  # logs and pipes: don't squeeze ids into 80 columns
    console.print(table)


async def replay_dead_letters(amqp_url: str, *, reason: str | None = None,
                              limit: int | None = None, dry_run: bool = False,
                              progress: bool = False, strategy: Strategy = "auto",
                              dead_queue: str = DEAD_QUEUE,
                              work_queue: str = WORK_QUEUE) -> int:
    """Move matching dead letters to the work queue; return how many moved (or would)."""
    async with _connect(amqp_url) as connection:
        count = await _depth(connection, dead_queue)
        if not count:
            return 0
        if await _depth(connection, work_queue) is None:
            raise RuntimeError(f"queue {work_queue!r} does not exist; start the worker once "
                               "to declare it")
        rotate = _rotates(connection, strategy, count)
        selected = 0
        bar = _progress_bar() if progress else nullcontext()
        with bar:
            task = (bar.add_task("checking" if dry_run else "replaying", total=count)
                    if progress else None)
            async with _pass(connection, dead_queue, work_queue, count=count,
                             rotate=rotate) as walk:
                while (message := await walk.next()) is not None:
                    letter = DeadLetter.from_message(message)
                    if ((reason is None or letter.reason == reason)
                            and (limit is None or selected < limit)):
                        selected += 1
                        if dry_run:
                            await walk.keep(message)
                        else:
                            await walk.move(message, letter.replays)
                    else:
                        await walk.keep(message)
                    if task is not None:
                        bar.advance(task)
                    if not rotate and limit is not None and selected >= limit:
                        break
        return selected if dry_run else walk.moved


def _progress_bar() -> Any:
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)
