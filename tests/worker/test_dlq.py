"""`dlq list` and `dlq replay` against a real RabbitMQ, no worker running.

The in-process tests use a private pair of quorum queues per test, so that another test
run purging the contract queues on the same broker cannot disturb them; the CLI tests use
the contract queues themselves (`onefile-worker.dead`, `onefile-worker.enrolments`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from tests.worker_fixture import AMQP_URL, Broker, enrolment
from worker.dlq import (
    ROTATE_AT_DELIVERY_COUNT,
    list_dead_letters,
    peek_is_safe,
    print_dead_letters,
    replay_dead_letters,
)
from worker.topology import DEAD_QUEUE, WORK_QUEUE

QUORUM = {"x-queue-type": "quorum"}
DEADLINE_S = 30.0


@dataclass
class Queues:
    dead: str
    work: str


@pytest.fixture
async def queues(broker: Broker) -> AsyncIterator[Queues]:
    """A fresh dead-letter queue and work queue, deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = Queues(dead=f"test-dlq-dead-{suffix}", work=f"test-dlq-work-{suffix}")
    declared = [await broker.channel.declare_queue(name, durable=True, arguments=QUORUM)
                for name in (names.dead, names.work)]
    yield names
    for queue in declared:
        await queue.delete(if_unused=False, if_empty=False)


def body_of(n: int, course_code: str = "ST0116-L4") -> bytes:
    return json.dumps(enrolment(1000 + n, course_code, event_id=f"evt-{n}")).encode()


async def seed(broker: Broker, queue: str, body: bytes, reason: str = "unmapped_course", *,
               detail: str = "no mapping for course NOPE", attempts: int = 1,
               **headers: object) -> None:
    """Put one dead letter in ``queue`` as the worker writes them."""
    await broker.channel.default_exchange.publish(
        aio_pika.Message(
            body, content_type="application/json", message_id=f"m-{uuid.uuid4()}",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={"x-failure-reason": reason, "x-failure-detail": detail,
                     "x-attempts": attempts, "x-first-failed-at": "2026-09-01T09:00:01.000Z",
                     "x-dead-lettered-at": "2026-09-01T09:00:02.000Z",
                     "x-original-exchange": "enrolment",
                     "x-original-routing-key": "learner.enrolled", **headers}),
        routing_key=queue)


async def seed_mixed(broker: Broker, queue: str, count: int) -> list[tuple[bytes, str]]:
    """``count`` dead letters, alternately ``unmapped_course`` and ``onefile_rejected``."""
    letters = [(body_of(n), "unmapped_course" if n % 2 == 0 else "onefile_rejected")
               for n in range(count)]
    for body, reason in letters:
        await seed(broker, queue, body, reason)
    return letters


async def drain(broker: Broker, name: str) -> list[AbstractIncomingMessage]:
    """Take (and ack) every ready message of ``name``, oldest first.

    By consuming, because the work queue's single active consumer rules out basic.get."""
    count = await broker.depth(name)
    taken: list[AbstractIncomingMessage] = []
    if count == 0:
        return taken
    channel = await broker.connection.channel()
    try:
        queue = await channel.get_queue(name)
        async with asyncio.timeout(DEADLINE_S), queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                taken.append(message)
                if len(taken) == count:
                    break
    finally:
        await channel.close()
    return taken


async def assert_contract_queues_idle(broker: Broker) -> None:
    """The CLI tests use the contract queues: a worker of another test run on the same
    broker would take their messages, and should be named as the cause, not a loss."""
    for name in (DEAD_QUEUE, WORK_QUEUE):
        queue = await broker.channel.declare_queue(name, passive=True)
        assert queue.declaration_result.consumer_count == 0, (
            f"another process consumes {name}; run these tests on an idle broker")


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", "dlq", *args, env={**os.environ, "AMQP_URL": AMQP_URL},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


# --- list ---------------------------------------------------------------------------------

async def test_list_shows_each_dead_letter_with_its_reason_detail_and_attempts(broker, queues):
    await seed(broker, queues.dead, body_of(1), "unmapped_course", attempts=1)
    await seed(broker, queues.dead, b"\xffnot json", "invalid_message",
               detail="body is not UTF-8 JSON", attempts=1)
    await seed(broker, queues.dead, body_of(3), "retries_exhausted", detail="503 from Onefile",
               attempts=5, **{"x-replays": 2})

    letters = await list_dead_letters(AMQP_URL, dead_queue=queues.dead)

    assert [(x.event_id, x.reason, x.detail, x.attempts, x.replays) for x in letters] == [
        ("evt-1", "unmapped_course", "no mapping for course NOPE", 1, 0),
        (None, "invalid_message", "body is not UTF-8 JSON", 1, 0),
        ("evt-3", "retries_exhausted", "503 from Onefile", 5, 2),
    ]
    assert letters[0].first_failed_at == "2026-09-01T09:00:01.000Z"
    assert letters[0].dead_lettered_at == "2026-09-01T09:00:02.000Z"
    assert letters[1].body == b"\xffnot json" and letters[1].size_bytes == 9


async def test_listing_25_times_keeps_every_dead_letter_in_its_place(broker, queues):
    letters = await seed_mixed(broker, queues.dead, 12)
    bodies = [body for body, _ in letters]

    for _ in range(25):
        listed = await list_dead_letters(AMQP_URL, dead_queue=queues.dead)
        assert [x.body for x in listed] == bodies
        assert await broker.depth(queues.dead) == 12

    assert [m.body for m in await drain(broker, queues.dead)] == bodies


async def test_repeated_listing_keeps_delivery_counts_below_the_guard(broker, queues):
    await seed_mixed(broker, queues.dead, 5)

    for _ in range(25):
        await list_dead_letters(AMQP_URL, dead_queue=queues.dead)

    counts = [int((m.headers or {}).get("x-delivery-count", 0))
              for m in await drain(broker, queues.dead)]
    assert len(counts) == 5
    assert max(counts) <= ROTATE_AT_DELIVERY_COUNT


async def test_listing_by_rotation_keeps_the_order_and_resets_delivery_counts(broker, queues):
    letters = await seed_mixed(broker, queues.dead, 40)
    bodies = [body for body, _ in letters]
    for _ in range(3):  # peeking returns each message, counting up x-delivery-count
        await list_dead_letters(AMQP_URL, dead_queue=queues.dead, strategy="peek")

    for _ in range(5):
        listed = await list_dead_letters(AMQP_URL, dead_queue=queues.dead, strategy="rotate")
        assert [x.body for x in listed] == bodies
        assert await broker.depth(queues.dead) == 40

    drained = await drain(broker, queues.dead)
    assert [m.body for m in drained] == bodies
    assert max(int((m.headers or {}).get("x-delivery-count", 0)) for m in drained) <= 1
    assert drained[0].headers["x-failure-reason"] == "unmapped_course"


async def test_reason_filter_lists_only_that_reason(broker, queues):
    letters = await seed_mixed(broker, queues.dead, 6)

    listed = await list_dead_letters(AMQP_URL, reason="onefile_rejected", dead_queue=queues.dead)

    assert [x.body for x in listed] == [b for b, r in letters if r == "onefile_rejected"]
    assert await broker.depth(queues.dead) == 6


@pytest.mark.parametrize("strategy", ["peek", "rotate"])
async def test_limit_lists_only_the_oldest_matching_ones(broker, queues, strategy):
    letters = await seed_mixed(broker, queues.dead, 10)

    listed = await list_dead_letters(AMQP_URL, reason="unmapped_course", limit=3,
                                     strategy=strategy, dead_queue=queues.dead)

    assert [x.body for x in listed] == [b for b, r in letters if r == "unmapped_course"][:3]
    assert [m.body for m in await drain(broker, queues.dead)] == [b for b, _ in letters]


async def test_list_of_a_queue_that_does_not_exist_is_empty(broker):
    assert await list_dead_letters(AMQP_URL, dead_queue=f"absent-{uuid.uuid4()}") == []


async def test_json_lines_parse_and_carry_the_body_as_text_or_base64(broker, queues, capsys):
    await seed(broker, queues.dead, body_of(1), "unmapped_course", traceparent="00-abc-def-01")
    await seed(broker, queues.dead, b"\xff\xfe", "invalid_message")
    letters = await list_dead_letters(AMQP_URL, dead_queue=queues.dead)

    print_dead_letters(letters, as_json=True)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["event_id"], x["reason"], x["attempts"], x["replays"]) for x in lines] == [
        ("evt-1", "unmapped_course", 1, 0), (None, "invalid_message", 1, 0)]
    assert lines[0]["body"] == body_of(1).decode() and lines[0]["body_encoding"] == "utf-8"
    assert (lines[1]["body"], lines[1]["body_encoding"]) == ("//4=", "base64")
    assert lines[0]["headers"]["traceparent"] == "00-abc-def-01"
    assert lines[0]["first_failed_at"] == "2026-09-01T09:00:01.000Z"


def test_peeking_is_chosen_only_on_rabbitmq_3():
    assert peek_is_safe("3.10.8") and peek_is_safe("3.13.7")
    assert not peek_is_safe("4.0.5") and not peek_is_safe("4.3.0")
    assert not peek_is_safe(None) and not peek_is_safe("unknown")


# --- replay -------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["peek", "rotate"])
async def test_replay_of_one_reason_moves_only_those_byte_for_byte(broker, queues, strategy):
    letters = await seed_mixed(broker, queues.dead, 10)
    moved = await replay_dead_letters(AMQP_URL, reason="unmapped_course", strategy=strategy,
                                      dead_queue=queues.dead, work_queue=queues.work)

    wanted = [b for b, r in letters if r == "unmapped_course"]
    assert moved == len(wanted) == 5
    replayed = await drain(broker, queues.work)
    assert [m.body for m in replayed] == wanted
    for message in replayed:
        headers = message.headers or {}
        assert headers["x-replays"] == 1
        assert not {"x-failure-reason", "x-failure-detail", "x-attempts"} & set(headers)
        assert headers["x-original-routing-key"] == "learner.enrolled"
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert [m.body for m in await drain(broker, queues.dead)] == [
        b for b, r in letters if r != "unmapped_course"]


async def test_a_second_replay_counts_x_replays_up(broker, queues):
    await seed(broker, queues.dead, body_of(1), **{"x-replays": 1})

    await replay_dead_letters(AMQP_URL, dead_queue=queues.dead, work_queue=queues.work)

    [message] = await drain(broker, queues.work)
    assert message.headers["x-replays"] == 2


async def test_replay_dry_run_counts_and_moves_nothing(broker, queues):
    letters = await seed_mixed(broker, queues.dead, 6)

    would = await replay_dead_letters(AMQP_URL, reason="onefile_rejected", dry_run=True,
                                      dead_queue=queues.dead, work_queue=queues.work)

    assert would == 3
    assert await broker.depth(queues.work) == 0
    assert [m.body for m in await drain(broker, queues.dead)] == [b for b, _ in letters]


async def test_replay_limit_moves_the_oldest_n_only(broker, queues):
    letters = await seed_mixed(broker, queues.dead, 6)

    moved = await replay_dead_letters(AMQP_URL, limit=2, dead_queue=queues.dead,
                                      work_queue=queues.work)

    assert moved == 2
    assert [m.body for m in await drain(broker, queues.work)] == [b for b, _ in letters[:2]]
    assert [m.body for m in await drain(broker, queues.dead)] == [b for b, _ in letters[2:]]


async def test_replay_without_a_work_queue_fails_and_keeps_every_dead_letter(broker, queues):
    await seed_mixed(broker, queues.dead, 3)

    with pytest.raises(RuntimeError, match="does not exist"):
        await replay_dead_letters(AMQP_URL, dead_queue=queues.dead,
                                  work_queue=f"absent-{uuid.uuid4()}")

    assert await broker.depth(queues.dead) == 3


async def test_a_replay_killed_mid_way_loses_no_dead_letter(broker):
    await assert_contract_queues_idle(broker)
    bodies = {body_of(n, "NOPE") for n in range(2000)}
    await asyncio.gather(*(seed(broker, DEAD_QUEUE, body) for body in bodies))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", "dlq", "replay", env={**os.environ, "AMQP_URL": AMQP_URL},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    deadline = time.monotonic() + DEADLINE_S
    while await broker.depth(WORK_QUEUE) == 0:
        assert process.returncode is None, "the replay ended before it was seen moving"
        assert time.monotonic() < deadline, "the replay moved nothing"
        await asyncio.sleep(0.005)

    process.send_signal(signal.SIGKILL)
    await process.communicate()

    assert process.returncode == -signal.SIGKILL
    seen_dead: set[bytes] = set()
    seen_work: set[bytes] = set()
    deadline = time.monotonic() + DEADLINE_S
    while not bodies <= seen_dead | seen_work:  # the broker hands back what the replay held
        assert time.monotonic() < deadline, f"lost {len(bodies - seen_dead - seen_work)}"
        seen_dead |= {m.body for m in await drain(broker, DEAD_QUEUE)}
        seen_work |= {m.body for m in await drain(broker, WORK_QUEUE)}
        await asyncio.sleep(0.05)
    assert seen_dead and seen_work, "the kill did not land mid-way"


# --- the CLI ------------------------------------------------------------------------------

async def test_cli_list_prints_a_table_and_exits_0(broker):
    await assert_contract_queues_idle(broker)
    await seed(broker, DEAD_QUEUE, body_of(1), "unmapped_course")
    await seed(broker, DEAD_QUEUE, body_of(2), "onefile_rejected", detail="400 Bad Request")

    code, out, err = await run_cli("list")

    assert (code, err) == (0, "")
    assert "evt-1" in out and "unmapped_course" in out
    assert "evt-2" in out and "onefile_rejected" in out and "400 Bad Request" in out
    assert "2 dead letter(s)" in out
    assert await broker.depth(DEAD_QUEUE) == 2


async def test_cli_list_with_an_unknown_reason_exits_2_with_one_line(broker):
    code, out, err = await run_cli("list", "--reason", "bogus")

    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--reason must be one of" in err


async def test_cli_replay_dry_run_says_how_many_would_move(broker):
    await assert_contract_queues_idle(broker)
    await seed(broker, DEAD_QUEUE, body_of(1), "unmapped_course")
    await seed(broker, DEAD_QUEUE, body_of(2), "onefile_rejected")

    code, out, _ = await run_cli("replay", "--reason", "unmapped_course", "--dry-run")

    assert (code, out.strip()) == (0, "would move 1 message(s)")
    assert await broker.depth(WORK_QUEUE) == 0 and await broker.depth(DEAD_QUEUE) == 2
