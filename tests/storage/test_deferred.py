"""Audit events written at commit: in one statement, yet never missing from a read, never kept after a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from storage import tickets
from storage.models import TicketEvent
from tests.bot.loop_helpers import all_tickets, resident_says


@pytest.fixture
async def opened_ticket(bot) -> int:
    await resident_says(bot, "3号楼电梯坏了，麻烦尽快修一下")
    return (await all_tickets(bot))[0].id


async def kinds(bot, ticket_id: int) -> list[str]:
    async with bot.sessions() as session:
        return [e.kind for e in await tickets.events_of(session, ticket_id)]


async def test_noted_events_are_written_together_at_commit(bot, opened_ticket):
    inserts = []
    listener = lambda conn, cursor, statement, *rest: statement.startswith("INSERT INTO ticket_events") and inserts.append(1)  # noqa: E731
    event.listen(bot.engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with bot.sessions.begin() as session:
            for kind in ("a", "b", "c"):
                tickets.note_event(session, opened_ticket, kind, actor_id=None, now=bot.clock())
    finally:
        event.remove(bot.engine.sync_engine, "before_cursor_execute", listener)
    assert len(inserts) == 1
    assert (await kinds(bot, opened_ticket))[-3:] == ["a", "b", "c"]


async def test_a_read_in_the_same_transaction_sees_noted_events(bot, opened_ticket):
    async with bot.sessions.begin() as session:
        tickets.note_event(session, opened_ticket, "noted", actor_id=None, now=bot.clock())
        assert (await tickets.events_of(session, opened_ticket))[-1].kind == "noted"


async def test_events_keep_their_order_when_one_is_written_at_once(bot, opened_ticket):
    async with bot.sessions.begin() as session:
        tickets.note_event(session, opened_ticket, "first", actor_id=None, now=bot.clock())
        await tickets.add_event(session, opened_ticket, "second", actor_id=None, now=bot.clock())
    assert (await kinds(bot, opened_ticket))[-2:] == ["first", "second"]


async def test_rollback_drops_noted_events(bot, opened_ticket):
    with pytest.raises(RuntimeError):
        async with bot.sessions.begin() as session:
            tickets.note_event(session, opened_ticket, "lost", actor_id=None, now=bot.clock())
            raise RuntimeError("the handler failed")
    async with bot.sessions.begin() as session:  # a later transaction must not write them either
        tickets.note_event(session, opened_ticket, "kept", actor_id=None, now=bot.clock())
    assert "lost" not in await kinds(bot, opened_ticket)
    assert (await kinds(bot, opened_ticket))[-1] == "kept"
    async with bot.sessions() as session:
        assert await session.scalar(select(TicketEvent.kind).where(TicketEvent.kind == "lost")) is None
