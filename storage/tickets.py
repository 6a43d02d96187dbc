"""Tickets and their audit trail."""

from __future__ import annotations

import collections
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, bindparam, cast, event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage import deferred
from storage.models import Attachment, Ticket, TicketEvent, TicketReporter
from storage.sql import insert_ignore


async def open_ticket(
    session: AsyncSession,
    *,
    intent: str,
    category: str,
    urgency: str,
    text: str,
    keywords: list[str],
    group_id: int,
    grid_id: str | None,
    reporter_id: int,
    assignee_id: int | None,
    source_message_id: str | None,
    now: datetime,
    due_at: datetime,
    take_due_at: datetime | None = None,
    team: str | None = None,
    signature: dict | None = None,
    number: int | None = None,
) -> int:
    """Insert the ticket and its first audit events; returns its number.

    `number`: one taken from TicketNumbers; the row is then written with the others at commit.
    Without one the database numbers it, and the INSERT runs at once to return it."""
    row = {
        "status": "open", "intent": intent, "category": category, "urgency": urgency, "text": text,
        "keywords": keywords, "group_id": group_id, "grid_id": grid_id, "reporter_id": reporter_id,
        "assignee_id": assignee_id, "source_message_id": source_message_id, "created_at": now, "due_at": due_at,
        "take_due_at": take_due_at, "team": team, "signature": signature or {},
    }
    if number is None:
        number = await session.scalar(_OPEN_TICKET, row)
    else:
        deferred.defer(session, Ticket.__table__, {**row, "id": number})
    note_event(session, number, "created", f"{intent}/{category}/{urgency}", actor_id=reporter_id, now=now)
    if assignee_id is not None:
        note_event(session, number, "assigned", f"person:{assignee_id}", actor_id=None, now=now)
    return number


# A plain INSERT built once (a flood opens hundreds of tickets; the ORM's unit of work is not needed here).
_OPEN_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)


class TicketNumbers:
    """Ticket numbers taken from PostgreSQL's sequence several at a time.

    A flood's batch opens a dozen tickets; asking for each number is a round trip each (the
    INSERT … RETURNING). On PostgreSQL one statement takes as many numbers from the sequence as
    the batch may need, and numbers a batch did not use are used by the next one, so numbers stay
    consecutive except after a restart (the unused ones of the last batch are skipped); the
    sequence keeps them unique across instances. On SQLite (one instance) the processing
    transaction holds the only write lock from its first statement, so the numbers after the
    highest one in the table are its own: one query per transaction, then counted in memory.
    One per process: only the dispatcher's processing, one batch at a time, takes from it.
    """

    AT_MOST = 50  # numbers taken at once: what a restart may skip

    def __init__(self) -> None:
        self._spare: collections.deque[int] = collections.deque()

    async def take(self, session: AsyncSession, wanted: int) -> int | None:
        """A number for a new ticket, or None where the INSERT is to number it."""
        dialect = session.bind.dialect.name if session.bind is not None else ""
        if dialect == "sqlite":
            return await self._next_on_sqlite(session)
        if dialect != "postgresql":
            return None
        if not self._spare:
            numbers = await session.scalars(_NEXT_NUMBERS, {"n": min(max(1, wanted), self.AT_MOST)})
            self._spare.extend(sorted(numbers.all()))
        return self._spare.popleft()

    async def _next_on_sqlite(self, session: AsyncSession) -> int:
        # Only inside the processing transaction, which has written (and holds the lock) already.
        last = session.info.get(_LAST_NUMBER)
        if last is None:
            last = int(await session.scalar(_HIGHEST) or 0)  # also writes this transaction's deferred tickets
        session.info[_LAST_NUMBER] = last + 1
        return last + 1


_NEXT_NUMBERS = text("SELECT nextval(pg_get_serial_sequence('tickets', 'id')) FROM generate_series(1, :n)")
_HIGHEST = select(func.max(Ticket.id))
_LAST_NUMBER = "last_ticket_number"  # in the session's info, for one transaction


@event.listens_for(Session, "after_transaction_end")
def _forget_last_number(session: Session, transaction) -> None:
    if transaction.parent is None:  # the transaction itself, not a flush's or a savepoint's inside it
        session.info.pop(_LAST_NUMBER, None)


async def add_event(
    session: AsyncSession, ticket_id: int, kind: str, detail: str = "", *, actor_id: int | None, now: datetime,
) -> TicketEvent:
    """Record a change, written at once (its id names the messages it owes)."""
    await deferred.write(session, TicketEvent.__table__)  # keep the trail in order: earlier events first
    event = TicketEvent(ticket_id=ticket_id, kind=kind, detail=detail, actor_id=actor_id, created_at=now)
    session.add(event)
    await session.flush()
    return event


def note_event(session: AsyncSession, ticket_id: int, kind: str, detail: str = "", *, actor_id: int | None,
               now: datetime) -> None:
    """Record a change whose id nobody needs: written with the others at commit (one statement)."""
    deferred.defer(session, TicketEvent.__table__, {"ticket_id": ticket_id, "actor_id": actor_id, "kind": kind,
                                                    "detail": detail, "created_at": now})


async def ticket_for_message(session: AsyncSession, message_id: str) -> Ticket | None:
    return await session.scalar(select(Ticket).where(Ticket.source_message_id == message_id))


async def events_of(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    rows = await session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return list(rows.all())


async def latest_open_ticket_of(
    session: AsyncSession, *, reporter_id: int, group_id: int, since: datetime
) -> Ticket | None:
    """The resident's newest still-open ticket in this group opened after `since`."""
    return await session.scalar(
        select(Ticket)
        .where(
            Ticket.reporter_id == reporter_id,
            Ticket.group_id == group_id,
            Ticket.created_at >= since,
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )


# Events the bot itself writes when it opens a ticket; anything else means staff touched it.
AUTOMATIC_EVENTS = frozenset({"created", "assigned", "alerted", "photo"})
OPEN_STATUSES = ("open", "in_progress")


async def is_untouched(session: AsyncSession, ticket: Ticket) -> bool:
    if ticket.status != "open":
        return False
    kinds = {e.kind for e in await events_of(session, ticket.id)}
    return kinds <= AUTOMATIC_EVENTS


async def cancel(session: AsyncSession, ticket: Ticket, *, reason: str, actor_id: int | None, now: datetime) -> None:
    ticket.status = "cancelled"
    ticket.closed_at = now
    await add_event(session, ticket.id, "cancelled", reason, actor_id=actor_id, now=now)


async def attach_photo(
    session: AsyncSession, ticket: Ticket, *, message_id: str, path: str, size: int, actor_id: int, now: datetime
) -> bool:
    """Attach once per message; False when this photo was attached before."""
    added = await insert_ignore(
        session,
        Attachment,
        {"ticket_id": ticket.id, "message_id": message_id, "path": path, "size": size, "created_at": now},
        ["message_id"],
    )
    if added:
        await add_event(session, ticket.id, "photo", path, actor_id=actor_id, now=now)
    return added


async def photo_count(session: AsyncSession, ticket_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.ticket_id == ticket_id)) or 0)


def note_reporter(session: AsyncSession, ticket_id: int, *, person_id: int, group_id: int, chat_id: str,
                  display_name: str, room_id: str | None, message_id: str | None, now: datetime) -> None:
    """One more resident on this ticket (the first, or a 附议), written with the others at commit.

    The caller knows they are not on it yet (OpenTickets); a second instance adding the same
    person at the same moment fails that batch, which is then retried one message at a time.
    """
    deferred.defer(session, TicketReporter.__table__, {
        "ticket_id": ticket_id, "person_id": person_id, "group_id": group_id, "chat_id": chat_id,
        "display_name": display_name, "room_id": room_id, "message_id": message_id, "created_at": now})


@dataclass
class Candidate:
    """An open ticket a new report may be about (only what deciding and answering need)."""

    id: int
    status: str
    signature: dict
    assignee_id: int | None
    team: str | None
    mine: bool  # this resident reported it already
    reporters: int


@dataclass
class _Open:
    id: int
    category: str
    status: str
    signature: dict
    assignee_id: int | None
    team: str | None
    reporters: set[int]  # person ids


class OpenTickets:
    """The open tickets that reports in one transaction may duplicate, read once per group.

    A flood brings dozens of reports per batch; asking the database about each costs a round trip
    and decodes every candidate again. This view is loaded on the first report from a group and
    kept current as the transaction opens tickets and adds reporters, so it must not outlive it.
    """

    def __init__(self, session: AsyncSession, since: datetime, groups: Iterable[int] = (),
                 numbers: TicketNumbers | None = None, reports_at_most: int = 1):
        """`groups`: where this transaction's reports may come from, read together on the first one.
        `numbers`: where new tickets' numbers come from (`reports_at_most` at a time at most)."""
        self.session = session
        self.since = since
        self.groups = set(groups)
        self.numbers = numbers
        self.reports_at_most = reports_at_most
        self._by_group: dict[int, list[_Open]] = {}  # newest first
        self._changes_seen = _ticket_changes(session.sync_session)

    async def candidates(self, group_id: int, category: str, person_id: int) -> list[Candidate]:
        """Open tickets of one category in one group, newest first, each with whether this person
        reported it and how many did."""
        if self._stale():
            self._by_group.clear()
        if group_id not in self._by_group:
            await self._load({group_id} | (self.groups - self._by_group.keys()))
            self._changes_seen = _ticket_changes(self.session.sync_session)  # the load's autoflush included
        tickets = self._by_group[group_id]
        return [Candidate(t.id, t.status, t.signature, t.assignee_id, t.team, mine=person_id in t.reporters,
                          reporters=len(t.reporters)) for t in tickets if t.category == category]

    async def new_number(self) -> int | None:
        """The number for a ticket about to be opened (None: the INSERT gives it)."""
        if self.numbers is None:
            return None
        number = await self.numbers.take(self.session, self.reports_at_most)
        self.reports_at_most = max(1, self.reports_at_most - 1)
        return number

    def opened(self, ticket_id: int, *, group_id: int, category: str, signature: dict, assignee_id: int | None,
               team: str | None, reporter_id: int) -> None:
        if group_id in self._by_group:
            self._by_group[group_id].insert(0, _Open(ticket_id, category, "open", signature, assignee_id, team,
                                                     {reporter_id}))

    def joined(self, group_id: int, ticket_id: int, person_id: int) -> None:
        for ticket in self._by_group.get(group_id, ()):
            if ticket.id == ticket_id:
                ticket.reporters.add(person_id)

    def _stale(self) -> bool:
        """A ticket was closed, withdrawn or reassigned in this transaction (by staff in the same batch)."""
        session = self.session.sync_session
        return _ticket_changes(session) != self._changes_seen or any(isinstance(obj, Ticket) for obj in session.dirty)

    async def _load(self, group_ids: set[int]) -> None:
        rows = await self.session.execute(_OPEN_IN_GROUPS, {"group_ids": list(group_ids), "since": self.since})
        tickets: dict[int, _Open] = {}
        for group_id in group_ids:
            self._by_group[group_id] = []
        for ticket_id, group_id, category, status, signature, assignee_id, team, person_id in rows.all():
            ticket = tickets.get(ticket_id)
            if ticket is None:
                ticket = tickets[ticket_id] = _Open(ticket_id, category, status, _signature(signature),
                                                    assignee_id, team, set())
                self._by_group[group_id].append(ticket)  # newest first, as the query orders them
            if person_id is not None:
                ticket.reporters.add(person_id)


_CHANGES = "ticket_changes"


def _ticket_changes(session: Session) -> int:
    return session.info.get(_CHANGES, 0)


@event.listens_for(Session, "after_flush")
def _count_ticket_changes(session: Session, flush_context) -> None:
    # Still the pre-flush lists here: what this flush wrote.
    if any(isinstance(obj, Ticket) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGES] = _ticket_changes(session) + 1


def _open_in_groups_query():
    """Built once. The signature comes as text and is decoded through a cache: in a flood the same
    open tickets are read by batch after batch."""
    return (select(Ticket.id, Ticket.group_id, Ticket.category, Ticket.status, cast(Ticket.signature, Text),
                   Ticket.assignee_id, Ticket.team, TicketReporter.person_id)
            .outerjoin(TicketReporter, TicketReporter.ticket_id == Ticket.id)
            .where(Ticket.group_id.in_(bindparam("group_ids", expanding=True)),
                   Ticket.created_at >= bindparam("since"), Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id.desc()))


_OPEN_IN_GROUPS = _open_in_groups_query()


@functools.lru_cache(maxsize=4096)
def _decoded(text: str) -> dict:
    return json.loads(text)


def _signature(text: str | None) -> dict:
    return dict(_decoded(text)) if text else {}


async def awaiting_rating(session: AsyncSession, person_id: int, number: int | None) -> Ticket | None:
    """The resolved ticket a resident's 满意/不满意 is about: the one named, else their latest."""
    query = (select(Ticket).join(TicketReporter, TicketReporter.ticket_id == Ticket.id)
             .where(TicketReporter.person_id == person_id, Ticket.status == "resolved"))
    if number is not None:
        query = query.where(Ticket.id == number)
    return await session.scalar(query.order_by(Ticket.resolved_at.desc()).limit(1))
