"""Broadcasts through the bot with a frozen clock: exactly once, rotation, grace, races, pacing, notices."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import GridBot
from bot.broadcasts import content as content_files
from bot.broadcasts import service
from bot.config import OutboxSettings
from bot.outbox import OutboxSender, Pacer
from storage.db import create_engine, session_factory
from storage.models import BroadcastSend, BroadcastSlot
from tests.bot.loop_helpers import said_in, settle, staff_says
from tests.conftest import STAFF_GROUP, Clock, FakeTransport, make_settings

TZ = ZoneInfo("Asia/Shanghai")
RESIDENT_GROUPS = ["西园1号楼业主群", "西园3号楼业主群", "西园5号楼业主群"]
# Wednesday 2026-12-02 10:00 in Shanghai is an anti_fraud slot (plus up to 10 minutes of jitter).
SLOT = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)


async def start(settings, classifier, clock, transport=None) -> GridBot:
    bot = GridBot(settings, transport=transport or FakeTransport(), classifier=classifier, clock=clock)
    await bot.start(web_server=False)
    await bot.scheduler.stop()  # tests sweep by hand at chosen times
    return bot


async def sweep(bot) -> int:
    queued = await service.sweep(bot.sessions, bot.settings, bot.clock())
    await settle(bot)
    return queued


@pytest.fixture
async def bot(settings, classifier, reset_database):
    clock = Clock(SLOT.astimezone(timezone.utc) - timedelta(hours=1))
    instance = await start(settings, classifier, clock)
    yield instance
    await instance.stop()


def fraud_messages(transport) -> list:
    return [m for m in transport.sent if m.text.startswith("【防诈骗提醒】")]


async def test_slot_goes_to_every_resident_group_once(bot):
    assert await sweep(bot) == 0  # an hour early
    bot.clock.advance(hours=1, minutes=11)  # past the slot and its jitter
    assert await sweep(bot) == 3
    assert sorted(m.room_topic for m in fraud_messages(bot.transport)) == RESIDENT_GROUPS
    assert STAFF_GROUP not in {m.room_topic for m in bot.transport.sent}
    assert await sweep(bot) == 0  # the same slot never twice
    bot.clock.advance(minutes=30)
    assert await sweep(bot) == 0


async def test_rotation_without_repeats_until_every_tip_was_sent(bot):
    tips = content_files.load("anti_fraud.toml").tips
    seen: list[str] = []
    for week in range(len(tips) + 2):
        bot.clock.now = SLOT.astimezone(timezone.utc) + timedelta(weeks=week, minutes=11)
        await sweep(bot)
    async with bot.sessions() as session:
        seen = (await session.scalars(select(BroadcastSend.tip_id).where(
            BroadcastSend.group_topic == "西园1号楼业主群").order_by(BroadcastSend.id))).all()
    assert len(seen) == len(tips) + 2
    assert len(set(seen[:len(tips)])) == len(tips)  # a full round without repeats
    assert seen[len(tips):] == seen[:2]  # then it starts over


async def test_restart_inside_the_grace_window_sends_the_missed_slot(settings, classifier, reset_database):
    clock = Clock(SLOT.astimezone(timezone.utc) + timedelta(hours=3))  # was down over the slot
    bot = await start(settings, classifier, clock)
    try:
        assert await sweep(bot) == 3
    finally:
        await bot.stop()


async def test_a_slot_missed_beyond_the_grace_window_is_skipped_and_logged(settings, classifier, caplog,
                                                                            reset_database):
    clock = Clock(SLOT.astimezone(timezone.utc) + timedelta(hours=7))  # grace is 6 h
    bot = await start(settings, classifier, clock)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.broadcasts.service"):
            assert await sweep(bot) == 0
        assert fraud_messages(bot.transport) == []
        assert "anti_fraud" in caplog.text and "skipped" in caplog.text
        async with bot.sessions() as session:
            assert (await session.scalars(select(BroadcastSlot.status))).all() == ["skipped"]
    finally:
        await bot.stop()


async def test_two_instances_racing_for_one_slot_send_it_once(settings, classifier, reset_database):
    clock = Clock(SLOT.astimezone(timezone.utc) + timedelta(minutes=11))
    bot = await start(settings, classifier, clock)
    engines = [create_engine(settings.storage.url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(service.sweep(session_factory(e), settings, clock()) for e in engines))
        assert sorted(results) == [0, 3]
        async with bot.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(BroadcastSend)) == 3
    finally:
        for engine in engines:
            await engine.dispose()
        await bot.stop()


async def test_a_50_group_broadcast_is_paced(tmp_path, classifier, reset_database):
    groups = "".join(f'\n[[groups]]\ntopic = "西园{i}号楼群"\nrole = "residents"\ngrid = "g1"\n' for i in range(10, 57))
    settings = make_settings(tmp_path, groups)
    assert len(service.targets(settings, settings.broadcasts[0])) == 50
    clock = Clock(SLOT.astimezone(timezone.utc) + timedelta(minutes=11))
    bot = await start(settings, classifier, clock)
    await bot.sender.stop()
    try:
        assert await service.sweep(bot.sessions, settings, clock()) == 50
        # Drive the sender by hand on a simulated clock: per-account 20/min, 3 s per group.
        seconds = [0.0]
        sender = OutboxSender(bot.sessions, bot.transport, OutboxSettings(), clock=clock)
        sender.pacer = Pacer(OutboxSettings(), clock=lambda: seconds[0])
        sent_at: list[float] = []
        original = bot.transport.send

        async def record(message):
            sent_at.append(seconds[0])
            await original(message)

        bot.transport.send = record
        while len(sent_at) < 50 and seconds[0] < 600:
            wait = await sender.drain_once()
            seconds[0] += max(wait, 0.5)
        assert len(sent_at) == 50
        for i in range(len(sent_at)):
            assert len([t for t in sent_at if sent_at[i] <= t < sent_at[i] + 60]) <= 20
        assert sent_at[-1] >= 120  # 50 messages at 20 a minute take over two minutes
    finally:
        await bot.stop()


async def test_send_now_reaches_resident_groups_only(bot):
    queued = await service.send_now(bot.sessions, bot.settings, "anti_drowning", bot.clock())
    await settle(bot)
    assert queued == 3
    assert sorted(m.room_topic for m in bot.transport.sent) == RESIDENT_GROUPS
    assert all(m.text.startswith("【防溺水提醒】") for m in bot.transport.sent)


async def test_send_now_at_night_waits_for_the_morning(bot):
    bot.clock.now = datetime(2026, 12, 1, 23, 0, tzinfo=TZ).astimezone(timezone.utc)
    await service.send_now(bot.sessions, bot.settings, "anti_fraud", bot.clock())
    bot.sender.wake()
    await asyncio.sleep(0.3)
    assert bot.transport.sent == []
    bot.clock.now = datetime(2026, 12, 2, 8, 1, tzinfo=TZ).astimezone(timezone.utc)
    await settle(bot)
    assert len(bot.transport.sent) == 3


async def test_supervisor_notice_preview_then_confirm(bot):
    await staff_says(bot, "通知 全部 明天上午9点到12点停水，请大家提前储水。", name="赵书记")
    preview = said_in(bot.transport, STAFF_GROUP)[-1].text
    assert "【通知预览】将发送到 3 个群" in preview and "确认发送" in preview
    assert len(bot.transport.sent) == 1  # nothing went to residents yet
    await staff_says(bot, "确认发送", name="赵书记")
    notices = [m for m in bot.transport.sent if m.text.startswith("【西园社区通知】")]
    assert sorted(m.room_topic for m in notices) == RESIDENT_GROUPS
    await staff_says(bot, "确认发送", name="赵书记")  # nothing left to confirm
    assert len([m for m in bot.transport.sent if m.text.startswith("【西园社区通知】")]) == 3


async def test_only_supervisors_send_notices(bot):
    await staff_says(bot, "通知 西园1号楼业主群 今晚电梯检修", name="张敏")
    assert "社区负责人" in said_in(bot.transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "通知 不存在的群 今晚电梯检修", name="赵书记")
    assert "没有找到群" in said_in(bot.transport, STAFF_GROUP)[-1].text


async def test_weekly_digest_on_monday_morning(settings, classifier, reset_database):
    monday_9 = datetime(2026, 12, 7, 9, 0, tzinfo=TZ).astimezone(timezone.utc)
    clock = Clock(monday_9 - timedelta(minutes=5))
    bot = await start(settings, classifier, clock)
    try:
        await sweep(bot)
        assert not any("简报" in m.text for m in bot.transport.sent)
        clock.advance(minutes=6)
        await sweep(bot)
        await sweep(bot)
        digests = [m for m in said_in(bot.transport, STAFF_GROUP) if "上周工作简报" in m.text]
        assert len(digests) == 1 and "响应率" in digests[0].text and "满意率" in digests[0].text
    finally:
        await bot.stop()
