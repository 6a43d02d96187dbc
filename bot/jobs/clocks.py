"""SLA clocks: remind the assignee before due, escalate when overdue, close unrated tickets.

The clocks are columns of the ticket (due_at, reminded_at, escalated_at, resolved_at), so they
survive restarts; each firing is claimed with a conditional UPDATE, so two bot instances on one
database never fire it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.config import Settings
from bot.services.clock import reminder_time
from bot.services.notify import Notifier
from storage import directory, tickets
from storage.models import Group, Person, Ticket


async def _claim(session: AsyncSession, ticket: Ticket, column: str, now: datetime) -> bool:
    column_attr = getattr(Ticket, column)
    result = await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, column_attr.is_(None)).values({column: now})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def check_clocks(sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    """One sweep; returns how many reminders, escalations and timeouts fired."""
    fired = 0
    async with sessions.begin() as session:
        notify = Notifier(session, settings, now)
        open_rows = (await session.scalars(
            select(Ticket).where(Ticket.status.in_(tickets.OPEN_STATUSES), Ticket.escalated_at.is_(None))
        )).all()
        supervisors = await directory.supervisors(session)
        for ticket in open_rows:
            assignee = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
            due = texts.local_time(ticket.due_at, settings.community.tz)
            if ticket.due_at <= now:
                if await _claim(session, ticket, "escalated_at", now):
                    group = await session.get(Group, ticket.group_id)
                    await tickets.add_event(session, ticket.id, "escalated", "", actor_id=None, now=now)
                    await notify.to_staff(
                        f"ticket:{ticket.id}:escalated:{ticket.due_at.timestamp():.0f}",
                        texts.overdue_alert(ticket.id, assignee.name if assignee else None, due,
                                            group.topic if group else ""),
                        mention=supervisors + ([assignee] if assignee else []), team=ticket.team)
                    fired += 1
            elif ticket.reminded_at is None and assignee is not None:
                started = _clock_start(settings, ticket)
                if reminder_time(settings, ticket, started) <= now and await _claim(session, ticket, "reminded_at", now):
                    await tickets.add_event(session, ticket.id, "reminded", assignee.name, actor_id=None, now=now)
                    await notify.to_staff(
                        f"ticket:{ticket.id}:reminder:{ticket.due_at.timestamp():.0f}",
                        texts.reminder_alert(ticket.id, due, ticket.status == "in_progress"), mention=[assignee])
                    fired += 1
        fired += await _close_unrated(session, settings, now)
    return fired


def _clock_start(settings: Settings, ticket: Ticket) -> datetime:
    """When the current clock started; a reopened ticket's clock restarted at the reopening."""
    return max(ticket.created_at, ticket.due_at - timedelta(hours=settings.sla.hours_for(ticket.urgency)))


async def _close_unrated(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """No 满意/不满意 within feedback_days: closed with no feedback (counts as unanswered, not unhappy)."""
    cutoff = now - timedelta(days=settings.sla.feedback_days)
    rows = (await session.scalars(
        select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at <= cutoff)
    )).all()
    closed = 0
    for ticket in rows:
        result = await session.execute(
            update(Ticket).where(Ticket.id == ticket.id, Ticket.status == "resolved")
            .values(status="closed", satisfaction="none", closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # not closed meanwhile by a rating or another instance
            await tickets.add_event(session, ticket.id, "feedback_timeout", "", actor_id=None, now=now)
            closed += 1
    return closed
