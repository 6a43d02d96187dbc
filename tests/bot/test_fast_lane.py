"""Replies leave right after the commit that owes them — but never faster than the pace, nor out of turn."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.app import GridBot
from bot.events import Outgoing, utcnow
from storage import outbox
from storage.models import OutboxMessage
from tests.bot.loop_helpers import said_in, settle
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP, FakeTransport, make_settings, resident_message

ELEVATOR = "3号楼电梯坏了，麻烦尽快修一下"
LIGHT = "楼道的声控灯不亮了，晚上看不见，麻烦修一下"


async def started(settings, classifier, transport=None) -> GridBot:
    bot = GridBot(settings, transport=transport or FakeTransport(), classifier=classifier)
    await bot.start(web_server=False)
    return bot


async def rows(bot) -> list[OutboxMessage]:
    async with bot.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_reply_leaves_right_after_the_commit_without_the_senders_claim(tmp_path, classifier, reset_database,
                                                                             monkeypatch):
    # The sender looks at the table only once a minute here: only the fast lane can be this quick.
    bot = await started(make_settings(tmp_path, outbox={"poll_seconds": 60}), classifier)
    claims = []
    original = outbox.claim_many
    monkeypatch.setattr(outbox, "claim_many", lambda *a, **k: claims.append(a) or original(*a, **k))
    try:
        await asyncio.sleep(0.1)  # the sender's first look at the table (it lets the fast lane open)
        await bot.dispatcher.feed(resident_message(ELEVATOR, time=bot.clock()))
        await bot.transport.wait_for(2, timeout=2)
        assert [m.mention_names for m in said_in(bot.transport, RESIDENT_GROUP)] == [("王阿姨",)]
        assert len(said_in(bot.transport, STAFF_GROUP)) == 1
        await settle(bot)
        assert [(r.status, r.attempts) for r in await rows(bot)] == [("sent", 1), ("sent", 1)]
        assert claims == []
    finally:
        await bot.stop()


async def test_fast_lane_keeps_the_pace_of_a_group(tmp_path, classifier, reset_database):
    bot = await started(make_settings(tmp_path, outbox={"per_group_interval_seconds": 2}), classifier)
    try:
        await asyncio.sleep(0.1)
        # Two residents, two problems, one burst: two replies owed to the same group.
        await asyncio.gather(bot.dispatcher.feed(resident_message(ELEVATOR, name="王阿姨", time=bot.clock())),
                             bot.dispatcher.feed(resident_message(LIGHT, name="李大爷", time=bot.clock())))
        await asyncio.sleep(1)
        assert len(said_in(bot.transport, RESIDENT_GROUP)) == 1  # the second waits for the group's pace
        await settle(bot, timeout=10)
        assert len(said_in(bot.transport, RESIDENT_GROUP)) == 2
    finally:
        await bot.stop()


async def test_fast_lane_never_overtakes_replies_still_waiting(tmp_path, classifier, reset_database):
    transport = FakeTransport()
    transport.up = False
    bot = await started(make_settings(tmp_path, outbox={"poll_seconds": 60}), classifier, transport)
    try:
        await bot.dispatcher.feed(resident_message(ELEVATOR, name="王阿姨", time=bot.clock()))
        await asyncio.sleep(0.2)  # the sender sees the first reply and cannot send it: WeChat is down
        transport.up = True
        await bot.dispatcher.feed(resident_message(LIGHT, name="李大爷", time=bot.clock()))
        await settle(bot)
        replies = said_in(transport, RESIDENT_GROUP)
        assert [m.mention_names for m in replies] == [("王阿姨",), ("李大爷",)]
    finally:
        await bot.stop()


async def test_same_key_twice_in_one_batch_is_one_message(bot):
    batch = outbox.Batch()
    now = utcnow()
    for text in ("一", "二"):
        batch.add(outbox.outbox_row("same", Outgoing(text=text, room_topic=RESIDENT_GROUP), now=now))
    async with bot.sessions.begin() as session:
        await batch.write(session, now)
    async with bot.sessions.begin() as session:  # and a key queued before stays as it was
        batch.add(outbox.outbox_row("same", Outgoing(text="三", room_topic=RESIDENT_GROUP), now=now))
        assert (await batch.write(session, now, lambda row: True)).ready == []
    assert [r.text for r in await rows(bot)] == ["一"]


async def report_while_the_sender_reads_the_table(bot, monkeypatch) -> None:
    """The next time the sender reads the table, a report is processed (and committed) meanwhile."""
    real_due = outbox.due
    looks = []

    async def due_while_a_report_commits(*args, **kwargs):
        rows = await real_due(*args, **kwargs)
        if not looks:
            looks.append(1)
            await bot.dispatcher.feed(resident_message(ELEVATOR, time=bot.clock()))
        return rows

    monkeypatch.setattr(outbox, "due", due_while_a_report_commits)
    bot.sender.wake()


async def test_a_reply_handed_over_while_the_sender_reads_the_table_still_leaves_at_once(
        tmp_path, classifier, reset_database, monkeypatch):
    bot = await started(make_settings(tmp_path, outbox={"poll_seconds": 30}), classifier)
    try:
        await asyncio.sleep(0.1)  # the first look is over: replies may take the fast lane
        await report_while_the_sender_reads_the_table(bot, monkeypatch)
        await bot.transport.wait_for(2, timeout=5)  # not after the next look, 30 s away
        assert [m.mention_names for m in said_in(bot.transport, RESIDENT_GROUP)] == [("王阿姨",)]
    finally:
        await bot.stop()


async def test_a_reply_queued_while_the_sender_reads_the_table_is_found_at_once(
        tmp_path, classifier, reset_database, monkeypatch):
    bot = await started(make_settings(tmp_path, outbox={"poll_seconds": 30}), classifier)
    try:
        await asyncio.sleep(0.1)
        monkeypatch.setattr(bot.sender, "take_now", lambda row: False)  # queued, and the sender woken
        await report_while_the_sender_reads_the_table(bot, monkeypatch)
        await bot.transport.wait_for(2, timeout=5)
        assert [m.mention_names for m in said_in(bot.transport, RESIDENT_GROUP)] == [("王阿姨",)]
    finally:
        await bot.stop()
