"""Deadlines of a ticket from [sla]: take (接单) and feedback, in office hours when configured."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import sla
from bot.config import Settings
from storage.models import Ticket


def deadlines(settings: Settings, urgency: str, start: datetime) -> tuple[datetime, datetime]:
    """(take by, answer the resident by)."""
    calendar = settings.sla.calendar_for(urgency, settings.community.tz)
    return (sla.due_at(start, settings.sla.take_hours_for(urgency), calendar),
            sla.due_at(start, settings.sla.hours_for(urgency), calendar))


def reminder_time(settings: Settings, ticket: Ticket, started: datetime) -> datetime:
    calendar = settings.sla.calendar_for(ticket.urgency, settings.community.tz)
    return sla.reminder_at(started, ticket.due_at, settings.sla.reminder_lead_fraction,
                           timedelta(minutes=settings.sla.reminder_min_lead_minutes), calendar=calendar)
