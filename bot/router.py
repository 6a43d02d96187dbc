"""Routers: handlers with filters, combined in one ordered list (aiogram style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import IncomingMessage, Outgoing
from bot.nlp.classifier import Classifier
from bot.services import intake
from bot.services.notify import Notifier
from bot.services.roster import Roster
from storage import outbox
from storage.tickets import OpenTickets
from storage.models import Group, Person


@dataclass
class Context:
    """What one handler call may use: the event, its DB session and the shared services."""

    message: IncomingMessage
    session: AsyncSession
    settings: Settings
    classifier: Classifier
    now: datetime
    group: Group | None = None
    sender: Person | None = None
    outbox_batch: outbox.Batch | None = None  # the dispatcher writes what handlers queue in one go
    roster: Roster = field(default_factory=Roster)  # the dispatcher keeps one across messages
    open_tickets: OpenTickets | None = None  # shared by the messages of one transaction
    notify: Notifier = field(init=False)

    def __post_init__(self) -> None:
        self.notify = Notifier(self.session, self.settings, self.now, self.outbox_batch)
        if self.open_tickets is None:
            self.open_tickets = intake.open_tickets(self.session, self.settings, self.now)

    async def say(self, key: str, message: Outgoing) -> None:
        """Queue a message in the same transaction as the change that owes it."""
        await self.notify.send(key, message)

    def reply(self, text: str) -> Outgoing:
        """An answer where the message came from: the group (mentioning the sender) or privately."""
        m = self.message
        if m.is_group:
            return Outgoing(text=text, room_topic=m.room_topic, room_id=m.room_id,
                            mention_ids=(m.talker_id,), mention_names=(m.display_name,))
        return Outgoing(text=text, to_id=m.talker_id)

    @property
    def is_staff(self) -> bool:
        return self.sender is not None and self.sender.role in ("grid_worker", "supervisor")


Filter = Callable[[Context], bool]
Handler = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    filters: tuple[Filter, ...]

    def matches(self, ctx: Context) -> bool:
        return all(f(ctx) for f in self.filters)


class Router:
    def __init__(self, name: str):
        self.name = name
        self.routes: list[Route] = []

    def message(self, *filters: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler, filters))
            return handler

        return register


# -- filters --------------------------------------------------------------------------

def in_resident_group(ctx: Context) -> bool:
    return ctx.group is not None and ctx.group.role == "residents"


def in_staff_group(ctx: Context) -> bool:
    return ctx.group is not None and ctx.group.role == "staff"


def is_text(ctx: Context) -> bool:
    return ctx.message.kind == "text" and bool(ctx.message.text.strip())


def is_kind(kind: str) -> Filter:
    return lambda ctx: ctx.message.kind == kind


def is_private(ctx: Context) -> bool:
    return not ctx.message.is_group


def from_staff(ctx: Context) -> bool:
    return ctx.is_staff


def from_resident(ctx: Context) -> bool:
    return not ctx.is_staff
