"""Helpers for ticket-loop tests: residents and staff speak, and we read what the bot said."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.events import Outgoing
from storage import outbox
from storage.models import Ticket
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP, resident_message


async def settle(bot, timeout: float = 10) -> None:
    """Wait until the outbox has delivered everything that is due."""
    bot.sender.wake()
    for _ in range(int(timeout / 0.02)):
        async with bot.sessions() as session:
            if await outbox.depth(session) == 0:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox did not drain")


async def resident_says(bot, text: str, name: str = "王阿姨", group: str = RESIDENT_GROUP, **extra) -> None:
    await bot.dispatcher.feed(resident_message(text, name=name, group=group, time=bot.clock(), **extra))
    await settle(bot)


async def staff_says(bot, text: str, name: str = "张敏", group: str | None = STAFF_GROUP) -> None:
    await bot.dispatcher.feed(resident_message(text, name=name, group=group, time=bot.clock()))
    await settle(bot)


def said_in(transport, topic: str) -> list[Outgoing]:
    return [m for m in transport.sent if m.room_topic == topic]


def said_to(transport, chat_id: str) -> list[Outgoing]:
    return [m for m in transport.sent if m.to_id == chat_id]


async def ticket(bot, number: int = 1) -> Ticket:
    async with bot.sessions() as session:
        return await session.get(Ticket, number)


async def all_tickets(bot) -> list[Ticket]:
    async with bot.sessions() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())
