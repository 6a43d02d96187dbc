"""Reports that arrive together are handled in one transaction: 附议 and repeats still hold, and
a ticket staff close in the same batch is not joined any more."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select

from storage.models import TicketReporter
from tests.bot.loop_helpers import all_tickets, resident_says, said_in, settle, ticket
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP, resident_message

REPORT = "3号楼2单元电梯坏了，麻烦尽快修一下"


async def together(bot, *said: tuple[str, str, str | None]) -> None:
    """(name, text, group) messages fed at once: the dispatcher takes them as one batch."""
    await asyncio.gather(*(bot.dispatcher.feed(resident_message(text, name=name, group=group, time=bot.clock()))
                           for name, text, group in said))
    await settle(bot)


async def reporters(bot, number: int) -> list[str]:
    async with bot.sessions() as session:
        return list((await session.scalars(select(TicketReporter.display_name)
                                           .where(TicketReporter.ticket_id == number)
                                           .order_by(TicketReporter.created_at))).all())


async def test_a_flood_about_one_fault_is_one_ticket_with_every_reporter(bot, transport):
    inserts = []

    def count(conn, cursor, statement, *rest):
        if statement.startswith("INSERT INTO ticket_reporters"):
            inserts.append(statement)

    event.listen(bot.engine.sync_engine, "before_cursor_execute", count)
    try:
        await together(bot, ("王阿姨", REPORT, RESIDENT_GROUP),
                       ("李大爷", "3号楼的电梯又不动了，赶紧来修吧", RESIDENT_GROUP),
                       ("王阿姨", "3号楼电梯坏了！！！", RESIDENT_GROUP),
                       ("赵叔", "3号楼电梯坏了，困了好久", RESIDENT_GROUP))
    finally:
        event.remove(bot.engine.sync_engine, "before_cursor_execute", count)
    assert len(await all_tickets(bot)) == 1
    assert sorted(await reporters(bot, 1)) == sorted(["王阿姨", "李大爷", "赵叔"])
    assert len(inserts) == 1  # the three reporters in one statement, at commit
    staff = [m.text for m in said_in(transport, STAFF_GROUP)]
    assert any("#1 附议" in text and "共 3 人" in text for text in staff), staff
    told = [m for m in said_in(transport, RESIDENT_GROUP) if m.mention_names == ("王阿姨",)]
    assert len(told) == 2  # the ticket, then the reminder that it is already registered


async def test_a_ticket_closed_earlier_in_the_batch_is_not_joined(bot, transport):
    await resident_says(bot, REPORT)
    await together(bot, ("李大爷", "3号楼的电梯又不动了，赶紧来修吧", RESIDENT_GROUP),  # joins #1
                   ("张敏", "办结 #1 已联系电梯公司修好了", STAFF_GROUP),
                   ("赵叔", "3号楼电梯坏了，又困人了", RESIDENT_GROUP))  # #1 is resolved by now
    assert (await ticket(bot, 1)).status == "resolved"
    assert sorted(await reporters(bot, 1)) == ["李大爷", "王阿姨"]
    assert [t.id for t in await all_tickets(bot)] == [1, 2]
    assert await reporters(bot, 2) == ["赵叔"]


async def test_a_report_and_a_status_question_in_one_batch(bot, transport):
    await together(bot, ("王阿姨", REPORT, RESIDENT_GROUP), ("王阿姨", "进度", RESIDENT_GROUP))
    answer = said_in(transport, RESIDENT_GROUP)[-1].text
    assert "#1" in answer and "待接单" in answer  # the status sees the reporter row not yet written
    async with bot.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TicketReporter)) == 1


async def test_a_batch_numbers_its_tickets_with_one_query_and_writes_them_in_one_insert(bot, settings):
    statements = []

    def count(conn, cursor, statement, *rest):
        statements.append(statement)

    event.listen(bot.engine.sync_engine, "before_cursor_execute", count)
    try:
        await together(bot, ("王阿姨", "1号楼电梯坏了，麻烦修一下", RESIDENT_GROUP),
                       ("李大爷", "门口路灯不亮了，请物业处理", RESIDENT_GROUP),
                       ("赵叔", "楼道里堆满了杂物，请清理一下", RESIDENT_GROUP))
    finally:
        event.remove(bot.engine.sync_engine, "before_cursor_execute", count)
    assert [t.id for t in await all_tickets(bot)] == [1, 2, 3]
    # PostgreSQL: numbers from the sequence in one statement; SQLite: the highest number, once.
    asked = "SELECT nextval" if settings.storage.url.startswith("postgresql") else "SELECT max(tickets.id)"
    assert len([s for s in statements if s.startswith(asked)]) == 1
    assert len([s for s in statements if s.startswith("INSERT INTO tickets")]) == 1  # the three, at commit
    await resident_says(bot, "5号楼水管漏水了，麻烦来看看", name="钱阿姨")
    assert [t.id for t in await all_tickets(bot)] == [1, 2, 3, 4]  # no gap between batches


async def test_rows_written_at_commit_go_in_after_the_rows_they_refer_to(bot):
    from storage import tickets

    await resident_says(bot, REPORT)
    first = (await all_tickets(bot))[0]
    async with bot.sessions.begin() as session:
        # An event for an existing ticket first, then a ticket written at commit and its own events.
        tickets.note_event(session, first.id, "noted", actor_id=None, now=bot.clock())
        number = await tickets.open_ticket(
            session, number=first.id + 100, intent="request", category="facility", urgency="normal",
            text="另一件事", keywords=[], group_id=first.group_id, grid_id=first.grid_id,
            reporter_id=first.reporter_id, assignee_id=None, source_message_id=None, now=bot.clock(),
            due_at=bot.clock())
        tickets.note_reporter(session, number, person_id=first.reporter_id, group_id=first.group_id,
                              chat_id="wxid_王阿姨", display_name="王阿姨", room_id=None, message_id=None,
                              now=bot.clock())
    assert [t.id for t in await all_tickets(bot)] == [first.id, first.id + 100]
    assert await reporters(bot, first.id + 100) == ["王阿姨"]
