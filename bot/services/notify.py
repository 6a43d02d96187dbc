"""Queue what the ticket loop owes people, in the same transaction as the change that owes it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import Outgoing
from bot.privacy import mask
from storage import outbox
from storage.models import Group, Person, Ticket, TicketReporter

URGENT_PRIORITY = 10  # emergencies jump the outbox queue


class Notifier:
    def __init__(self, session: AsyncSession, settings: Settings, now: datetime, batch: outbox.Batch | None = None):
        self.session = session
        self.settings = settings
        self.now = now
        # With a batch, rows are written together when the caller commits, and `queued` lists every key
        # given (a key queued before is only found out then); without one, each is written at once.
        self.batch = batch
        self.queued: list[str] = []

    async def send(self, key: str, message: Outgoing, *, channel: str = "chat", priority: int = 0,
                   not_before: datetime | None = None) -> None:
        """Queue once per key (a retried or repeated event never owes a message twice)."""
        row = outbox.outbox_row(key, message, now=self.now, channel=channel, priority=priority,
                                not_before=not_before, account=self.settings.transport.account)
        if self.batch is not None:
            self.batch.add(row)
            self.queued.append(key)
        elif await outbox.insert_row(self.session, row):
            self.queued.append(key)

    async def to_staff(self, key: str, text: str, *, mention: Sequence[Person] = (), priority: int = 0,
                       team: str | None = None) -> None:
        """The staff group (mentioning people) and, for a team, its webhook robots."""
        group = self.settings.staff_group()
        if group is not None:
            await self.send(key, Outgoing(
                text=text, room_topic=group.topic, room_id=group.room_id,
                mention_ids=tuple(p.chat_id for p in mention if p.chat_id),
                mention_names=tuple(dict.fromkeys(p.name for p in mention)),
            ), priority=priority)
        team_settings = next((t for t in self.settings.teams if t.name == team), None)
        for hook in team_settings.webhooks if team_settings else ():
            await self.send(f"{key}:webhook:{hook}", Outgoing(text=text), channel=f"webhook:{hook}",
                            priority=priority)

    async def to_person(self, key: str, chat_id: str, text: str, *, priority: int = 0) -> None:
        await self.send(key, Outgoing(text=text, to_id=chat_id), priority=priority)

    async def to_reporters(self, ticket: Ticket, key: str, text: str, *, priority: int = 0) -> None:
        """Every reporter hears it where they reported, mentioned by name; numbers masked in groups."""
        rows = (await self.session.execute(
            select(TicketReporter, Group)
            .join(Group, Group.id == TicketReporter.group_id)
            .where(TicketReporter.ticket_id == ticket.id)
            .order_by(TicketReporter.created_at)
        )).all()
        if self.settings.residents.reply_privately:
            for reporter, _group in rows:
                await self.to_person(f"{key}:p{reporter.person_id}", reporter.chat_id, text, priority=priority)
            return
        by_group: dict[int, list[tuple[TicketReporter, Group]]] = defaultdict(list)
        for reporter, group in rows:
            by_group[group.id].append((reporter, group))
        for group_id, members in by_group.items():
            group = members[0][1]
            room_id = next((r.room_id for r, _ in members if r.room_id), None) or group.room_id
            await self.send(f"{key}:g{group_id}", Outgoing(
                text=mask(text), room_topic=group.topic, room_id=room_id,
                mention_ids=tuple(r.chat_id for r, _ in members),
                mention_names=tuple(r.display_name for r, _ in members),
            ), priority=priority)
