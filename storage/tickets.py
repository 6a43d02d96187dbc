"""Tickets and their audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
) -> int:
    """Insert the ticket and its first audit events; returns its number."""
    number = await session.scalar(_OPEN_TICKET, {
        "status": "open", "intent": intent, "category": category, "urgency": urgency, "text": text,
        "keywords": keywords, "group_id": group_id, "grid_id": grid_id, "reporter_id": reporter_id,
        "assignee_id": assignee_id, "source_message_id": source_message_id, "created_at": now, "due_at": due_at,
        "take_due_at": take_due_at, "team": team, "signature": signature or {},
    })
    note_event(session, number, "created", f"{intent}/{category}/{urgency}", actor_id=reporter_id, now=now)
    if assignee_id is not None:
        note_event(session, number, "assigned", f"person:{assignee_id}", actor_id=None, now=now)
    return number


# Plain INSERTs built once (a flood opens hundreds of tickets; the ORM's unit of work is not needed here).
_OPEN_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)
_ADD_REPORTER = insert(TicketReporter.__table__)


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


async def add_first_reporter(session: AsyncSession, ticket_id: int, *, person_id: int, group_id: int, chat_id: str,
                             display_name: str, room_id: str | None, message_id: str | None, now: datetime) -> None:
    """The reporter of a ticket just opened (cannot be there already: no conflict check)."""
    await session.execute(_ADD_REPORTER, {"ticket_id": ticket_id, "person_id": person_id, "group_id": group_id,
                                          "chat_id": chat_id, "display_name": display_name, "room_id": room_id,
                                          "message_id": message_id, "created_at": now})


async def add_reporter(session: AsyncSession, ticket_id: int, *, person_id: int, group_id: int, chat_id: str,
                       display_name: str, room_id: str | None, message_id: str | None, now: datetime) -> bool:
    """Record one more resident reporting this ticket; False when they had already."""
    return await insert_ignore(
        session,
        TicketReporter,
        {"ticket_id": ticket_id, "person_id": person_id, "group_id": group_id, "chat_id": chat_id,
         "display_name": display_name, "room_id": room_id, "message_id": message_id, "created_at": now},
        ["ticket_id", "person_id"],
    )


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


def _candidates_query():
    """Built once: this runs for every report, and building a statement costs more than running it here."""
    person, group, category, since = (bindparam(n) for n in ("person_id", "group_id", "category", "since"))
    mine = exists().where(TicketReporter.ticket_id == Ticket.id, TicketReporter.person_id == person)
    reporters = (select(func.count()).select_from(TicketReporter).where(TicketReporter.ticket_id == Ticket.id)
                 .scalar_subquery())
    return (select(Ticket.id, Ticket.status, Ticket.signature, Ticket.assignee_id, Ticket.team, mine, reporters)
            .where(Ticket.group_id == group, Ticket.category == category, Ticket.created_at >= since,
                   Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id.desc()))


_CANDIDATES = _candidates_query()


async def duplicate_candidates(session: AsyncSession, *, group_id: int, category: str, since: datetime,
                               person_id: int) -> list[Candidate]:
    """Open tickets of one category in one group, newest first, each with whether this person reported
    it and how many did."""
    rows = await session.execute(_CANDIDATES, {"group_id": group_id, "category": category, "since": since,
                                               "person_id": person_id})
    return [Candidate(*row[:5], mine=bool(row[5]), reporters=int(row[6])) for row in rows.all()]


async def awaiting_rating(session: AsyncSession, person_id: int, number: int | None) -> Ticket | None:
    """The resolved ticket a resident's 满意/不满意 is about: the one named, else their latest."""
    query = (select(Ticket).join(TicketReporter, TicketReporter.ticket_id == Ticket.id)
             .where(TicketReporter.person_id == person_id, Ticket.status == "resolved"))
    if number is not None:
        query = query.where(Ticket.id == number)
    return await session.scalar(query.order_by(Ticket.resolved_at.desc()).limit(1))
