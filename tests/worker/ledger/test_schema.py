"""Opening a ledger creates or finds its schema and keeps what the ledger holds."""

from __future__ import annotations

from worker.ledger import open_ledger

LEARNER = 4242
COURSE = "ST0116-L4"


async def test_records_survive_closing_and_reopening_the_ledger(ledger_url):
    first = await open_ledger(ledger_url)
    await first.begin(LEARNER, COURSE, "evt-1", framework_template_id=101, aims_before=[1],
                      units_before=None)
    done = await first.complete(LEARNER, COURSE, learning_aim_ids=[2], unit_summary_ids=[3])
    await first.remember_published("evt-1", b"{}")
    await first.close()

    second = await open_ledger(ledger_url)
    try:
        assert await second.assignment(LEARNER, COURSE) == done
        assert await second.published("evt-1") == b"{}"
    finally:
        await second.close()


async def test_opening_an_existing_ledger_again_keeps_its_records(ledger, ledger_url):
    await ledger.remember_published("evt-1", b"{}")

    again = await open_ledger(ledger_url)
    try:
        assert await again.published("evt-1") == b"{}"
        assert await again.remember_published("evt-2", b"[]") == b"[]"
        assert await ledger.published("evt-2") == b"[]"
    finally:
        await again.close()
