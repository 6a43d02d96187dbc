"""SLA clocks with a frozen clock: reminders, escalation, feedback timeout, restarts, office hours."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.app import GridBot
from bot.jobs.clocks import check_clocks
from tests.bot.loop_helpers import resident_says, said_in, settle, staff_says, ticket
from tests.conftest import FakeTransport, RESIDENT_GROUP, STAFF_GROUP, make_settings

REPORT = "3号楼2单元电梯坏了，麻烦尽快修一下"  # normal urgency: 168 h


async def start(settings, classifier, clock, transport=None) -> GridBot:
    bot = GridBot(settings, transport=transport or FakeTransport(), classifier=classifier, clock=clock)
    await bot.start(web_server=False)
    await bot.scheduler.stop()  # the tests run the sweep themselves, at chosen times
    return bot


async def sweep(bot) -> int:
    fired = await check_clocks(bot.sessions, bot.settings, bot.clock())
    await settle(bot)
    return fired


@pytest.fixture
async def bot(settings, classifier, clock, reset_database):
    instance = await start(settings, classifier, clock)
    yield instance
    await instance.stop()


async def test_reminder_before_due_then_escalation_to_supervisors(bot, clock):
    await resident_says(bot, REPORT)
    clock.advance(hours=100)
    assert await sweep(bot) == 0  # 68 h left: too early
    clock.advance(hours=30)  # 38 h left, under a quarter of 168 h
    assert await sweep(bot) == 1
    reminder = said_in(bot.transport, STAFF_GROUP)[-1]
    assert "#1 即将超时" in reminder.text and reminder.mention_names == ("张敏",)
    assert await sweep(bot) == 0  # once only
    clock.advance(hours=39)
    assert await sweep(bot) == 1
    overdue = said_in(bot.transport, STAFF_GROUP)[-1]
    assert "#1 已超时" in overdue.text and set(overdue.mention_names) == {"赵书记", "张敏"}
    assert await sweep(bot) == 0


async def test_clocks_survive_a_restart(settings, classifier, clock, reset_database):
    first = await start(settings, classifier, clock)
    await resident_says(first, REPORT)
    await first.stop()
    clock.advance(hours=170)
    transport = FakeTransport()
    second = await start(settings, classifier, clock, transport)
    try:
        assert await sweep(second) == 1
        assert "#1 已超时" in said_in(transport, STAFF_GROUP)[-1].text
    finally:
        await second.stop()


async def test_resolved_ticket_stops_the_clock(bot, clock):
    await resident_says(bot, REPORT)
    await staff_says(bot, "办结 #1 已修好")
    clock.advance(hours=200)
    await sweep(bot)
    assert not any("超时" in m.text for m in said_in(bot.transport, STAFF_GROUP))


async def test_no_rating_in_three_days_counts_as_no_feedback(bot, clock):
    await resident_says(bot, REPORT)
    await staff_says(bot, "办结 #1 已修好")
    clock.advance(days=2)
    await sweep(bot)
    assert (await ticket(bot)).status == "resolved"
    clock.advance(days=1, minutes=1)
    await sweep(bot)
    closed = await ticket(bot)
    assert closed.status == "closed" and closed.satisfaction == "none"
    await resident_says(bot, "满意")  # too late: nothing is waiting for a rating any more
    assert (await ticket(bot)).satisfaction == "none"


async def test_office_hours_move_the_deadline(tmp_path, classifier, clock, reset_database):
    settings = make_settings(tmp_path, sla={"working_hours": "08:30-17:30", "urgent": "2"})
    # Friday 17:00 in Shanghai.
    clock.now = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    bot = await start(settings, classifier, clock)
    try:
        await resident_says(bot, "3号楼停水了，一滴水都没有，麻烦赶紧处理")
        t = await ticket(bot)
        assert t.urgency == "urgent"
        local_due = t.due_at.astimezone(settings.community.tz)
        assert (local_due.weekday(), local_due.hour, local_due.minute) == (0, 10, 0)  # Monday 10:00
        assert "11月30日 10:00 前" in said_in(bot.transport, RESIDENT_GROUP)[0].text
    finally:
        await bot.stop()
