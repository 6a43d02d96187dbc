"""Tickets and their audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Ticket, TicketEvent


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
    sla_hours: float,
) -> Ticket:
    ticket = Ticket(
        status="open",
        intent=intent,
        category=category,
        urgency=urgency,
        text=text,
        keywords=keywords,
        group_id=group_id,
        grid_id=grid_id,
        reporter_id=reporter_id,
        assignee_id=assignee_id,
        source_message_id=source_message_id,
        created_at=now,
        due_at=now + timedelta(hours=sla_hours),
    )
    session.add(ticket)
    await session.flush()
    await add_event(session, ticket.id, "created", f"{intent}/{category}/{urgency}", actor_id=reporter_id, now=now)
    if assignee_id is not None:
        await add_event(session, ticket.id, "assigned", f"person:{assignee_id}", actor_id=None, now=now)
    return ticket


async def add_event(
    session: AsyncSession, ticket_id: int, kind: str, detail: str = "", *, actor_id: int | None, now: datetime
) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket_id, kind=kind, detail=detail, actor_id=actor_id, created_at=now)
    session.add(event)
    await session.flush()
    return event


async def ticket_for_message(session: AsyncSession, message_id: str) -> Ticket | None:
    return await session.scalar(select(Ticket).where(Ticket.source_message_id == message_id))


async def events_of(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    rows = await session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return list(rows.all())
