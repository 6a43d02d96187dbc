"""Data kept to what is needed: the inbox is trimmed, old closed tickets are anonymised."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import GridBot
from bot.services import retention
from storage.models import InboxMessage, TicketReporter
from tests.bot.loop_helpers import resident_says, staff_says, ticket
from tests.conftest import FakeTransport


@pytest.fixture
async def bot(settings, classifier, clock, reset_database):
    instance = GridBot(settings, transport=FakeTransport(), classifier=classifier, clock=clock)
    await instance.start(web_server=False)
    await instance.scheduler.stop()
    yield instance
    await instance.stop()


async def test_chit_chat_is_gone_after_the_dedupe_window_tickets_stay(bot, clock):
    await resident_says(bot, "大家早上好")
    await resident_says(bot, "3号楼2单元电梯坏了，麻烦尽快修一下，电话13812345678")
    clock.advance(hours=25)
    async with bot.sessions.begin() as session:
        report = await retention.trim(session, bot.settings, clock.now)
    assert report.inbox == 2
    async with bot.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxMessage)) == 0
    assert "13812345678" in (await ticket(bot)).text  # the ticket keeps what staff need


async def test_purge_anonymises_old_closed_tickets_only(bot, clock):
    await resident_says(bot, "3号楼2单元电梯坏了，麻烦尽快修一下，电话13812345678")
    await staff_says(bot, "办结 #1 已修好，联系了王阿姨")
    await resident_says(bot, "满意")
    await resident_says(bot, "1号楼门口路灯不亮了，麻烦修一下", group="西园1号楼业主群", name="张先生")
    clock.advance(days=731)
    async with bot.sessions.begin() as session:
        dry = await retention.purge(session, bot.settings, clock.now, dry_run=True)
    assert dry.tickets == 1 and "13812345678" in (await ticket(bot)).text
    async with bot.sessions.begin() as session:
        report = await retention.purge(session, bot.settings, clock.now)
    assert report.tickets == 1
    old = await ticket(bot, 1)
    assert old.text == retention.PURGED_TEXT and old.resolution == "" and old.satisfaction == "satisfied"
    async with bot.sessions() as session:
        names = (await session.scalars(select(TicketReporter.display_name).where(TicketReporter.ticket_id == 1))).all()
    assert names == ["居民"]
    assert (await ticket(bot, 2)).text.startswith("1号楼门口路灯")  # still open: kept
