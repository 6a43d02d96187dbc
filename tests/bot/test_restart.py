"""Nothing owed is lost: unsent replies and unprocessed messages survive a restart."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select

from bot.app import GridBot
from bot.events import utcnow
from storage import inbox
from storage.models import InboxMessage, OutboxMessage, Ticket
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP, FakeTransport, resident_message


async def test_unsent_outbox_rows_are_sent_after_restart(settings, classifier, reset_database):
    down = FakeTransport()
    down.up = False  # WeChat is unreachable while the resident reports
    first = GridBot(settings, transport=down, classifier=classifier)
    await first.start(web_server=False)
    await first.dispatcher.feed(resident_message("3号楼2单元电梯坏了，麻烦尽快修一下"))
    await asyncio.sleep(0.3)
    assert down.sent == []
    await first.stop()

    up = FakeTransport()
    second = GridBot(settings, transport=up, classifier=classifier)
    await second.start(web_server=False)
    try:
        await up.wait_for(2)
        assert len(up.in_room(RESIDENT_GROUP)) == 1 and len(up.in_room(STAFF_GROUP)) == 1
        async with second.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Ticket)) == 1
        for _ in range(50):  # the row is marked sent just after the transport took it
            async with second.sessions() as session:
                statuses = (await session.scalars(select(OutboxMessage.status))).all()
            if statuses == ["sent", "sent"]:
                break
            await asyncio.sleep(0.05)
        assert statuses == ["sent", "sent"]
    finally:
        await second.stop()


async def test_disconnect_pauses_and_reconnect_drains(bot, transport):
    transport.up = False
    await bot.dispatcher.feed(resident_message("3号楼2单元电梯坏了，麻烦尽快修一下"))
    await asyncio.sleep(0.3)
    assert transport.sent == []
    transport.up = True
    bot.sender.wake()
    await transport.wait_for(2)


async def test_message_stored_before_a_crash_is_processed_on_start(settings, classifier, reset_database):
    first = GridBot(settings, transport=FakeTransport(), classifier=classifier)
    await first.start(web_server=False)
    # The bot stored the message and died before handling it.
    async with first.sessions.begin() as session:
        await inbox.store(session, resident_message("1号楼门口井盖没了，很危险", message_id="crash-1"), utcnow())
    await first.stop()

    transport = FakeTransport()
    second = GridBot(settings, transport=transport, classifier=classifier)
    await second.start(web_server=False)
    try:
        await transport.wait_for(2)
        await second.dispatcher.feed(resident_message("1号楼门口井盖没了，很危险", message_id="crash-1"))
        await asyncio.sleep(0.3)
        async with second.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert len(transport.sent) == 2
    finally:
        await second.stop()


async def test_a_message_commits_together_with_its_ticket_and_replies(bot, transport):
    """A crash can lose a message only together with everything it caused: never a ticket without its
    message in the inbox, nor a stored message whose effects are missing."""
    transactions, statements = [], {}  # statements by connection: background jobs run their own

    def note(conn, cursor, statement, *rest):
        statements.setdefault(conn, []).append(statement.split("(")[0].strip())

    def commit(conn):
        transactions.append(statements.pop(conn, []))

    engine = bot.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "commit", commit)
    try:
        await bot.dispatcher.feed(resident_message("1号楼门口井盖没了，很危险", message_id="together-1"))
    finally:
        event.remove(engine, "before_cursor_execute", note)
        event.remove(engine, "commit", commit)
    stored = [t for t in transactions if "INSERT INTO inbox" in t]
    assert len(stored) == 1, transactions
    assert {"INSERT INTO tickets", "INSERT INTO outbox"} <= set(stored[0]), stored
    await transport.wait_for(2)  # the reply in the group and the alert to staff
    async with bot.sessions() as session:
        assert await session.scalar(select(InboxMessage.status).where(InboxMessage.message_id == "together-1")) \
            == "processed"
