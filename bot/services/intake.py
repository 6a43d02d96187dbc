"""A resident's report becomes a ticket — or joins the open ticket about the same problem (附议)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.config import Settings
from bot.emergency import first_advice
from bot.events import IncomingMessage, Outgoing
from bot.nlp.classifier import Classification
from bot.nlp.signature import same_problem, signature
from bot.services import routing
from bot.services.clock import deadlines
from bot.services.notify import URGENT_PRIORITY, Notifier
from bot.services.roster import Roster
from storage import tickets
from storage.models import Group, Person


def open_tickets(session: AsyncSession, settings: Settings, now: datetime, groups: Iterable[int] = (),
                 numbers: tickets.TicketNumbers | None = None, reports_at_most: int = 1) -> tickets.OpenTickets:
    """The tickets reports in this transaction may duplicate (one view per processing transaction;
    `groups`: the resident groups its messages come from, read in one query; `numbers`: where new
    tickets' numbers come from, up to `reports_at_most` at a time)."""
    return tickets.OpenTickets(session, since=now - timedelta(hours=settings.duplicates.window_hours), groups=groups,
                               numbers=numbers, reports_at_most=reports_at_most)


async def take_report(session: AsyncSession, notify: Notifier, roster: Roster, open_now: tickets.OpenTickets,
                      message: IncomingMessage, group: Group, resident: Person, result: Classification) -> int:
    """The ticket number the report went to (a new one, or the open one about the same problem)."""
    settings = notify.settings
    sig = signature(message.text, result, settings.community.places)
    for ticket in await open_now.candidates(group.id, result.category, resident.id):
        if ticket.mine:
            if same_problem(sig, ticket.signature) or not sig["objects"] or not ticket.signature.get("objects"):
                await _repeat(notify, message, group, ticket)
                return ticket.id
        elif same_problem(sig, ticket.signature):
            await _join(session, notify, roster, open_now, message, group, resident, ticket)
            return ticket.id
    return await _open(session, notify, roster, open_now, message, group, resident, result, sig)


def _reply(message: IncomingMessage, group: Group, text: str) -> Outgoing:
    return Outgoing(text=text, room_topic=group.topic, room_id=message.room_id,
                    mention_ids=(message.talker_id,), mention_names=(message.display_name,))


async def _reply_to(notify: Notifier, key: str, message: IncomingMessage, group: Group, text: str,
                    priority: int = 0) -> None:
    if notify.settings.residents.reply_privately:
        await notify.to_person(key, message.talker_id, text, priority=priority)
    else:
        await notify.send(key, _reply(message, group, text), priority=priority)


async def _repeat(notify: Notifier, message: IncomingMessage, group: Group, ticket: tickets.Candidate) -> None:
    """The same resident again: no second ticket; remind them of the first at most once an hour."""
    hour = notify.now.strftime("%Y%m%d%H")
    await _reply_to(notify, f"ticket:{ticket.id}:repeat:{message.talker_id}:{hour}", message, group,
                    texts.repeat_ack(ticket.id, ticket.status))


async def _join(session: AsyncSession, notify: Notifier, roster: Roster, open_now: tickets.OpenTickets,
                message: IncomingMessage, group: Group, resident: Person, ticket: tickets.Candidate) -> None:
    tickets.note_reporter(session, ticket.id, person_id=resident.id, group_id=group.id, chat_id=message.talker_id,
                          display_name=message.display_name, room_id=message.room_id,
                          message_id=message.message_id, now=notify.now)
    open_now.joined(group.id, ticket.id, resident.id)
    tickets.note_event(session, ticket.id, "joined", message.text[:500], actor_id=resident.id, now=notify.now)
    count = ticket.reporters + 1
    key = f"ticket:{ticket.id}:joined:{message.message_id}"
    await _reply_to(notify, f"{key}:ack", message, group, texts.duplicate_ack(ticket.id, count))
    assignee = await roster.member(session, ticket.assignee_id)
    await notify.to_staff(f"{key}:alert",
                          texts.duplicate_alert(ticket.id, message.display_name, group.topic, count, message.text),
                          mention=[assignee] if assignee else [], team=ticket.team)


async def _open(session: AsyncSession, notify: Notifier, roster: Roster, open_now: tickets.OpenTickets,
                message: IncomingMessage, group: Group, resident: Person, result: Classification, sig: dict) -> int:
    settings = notify.settings
    assignee, team = await routing.route(session, roster, settings, group, result.category)
    take_due, due = deadlines(settings, result.urgency, notify.now)
    if settings.sla.calendar_for(result.urgency, settings.community.tz) is None:
        when = texts.sla_phrase(settings.sla.hours_for(result.urgency))
    else:  # office hours: 「7 天内」 would be wrong, give the date
        when = f"{texts.local_time(due, settings.community.tz)} 前"
    number = await tickets.open_ticket(
        session, number=await open_now.new_number(), intent=result.intent, category=result.category,
        urgency=result.urgency, text=message.text, keywords=result.keywords, group_id=group.id,
        grid_id=group.grid_id, reporter_id=resident.id,
        assignee_id=assignee.id if assignee else None, source_message_id=message.message_id, now=notify.now,
        due_at=due, take_due_at=take_due, team=team, signature=sig,
    )
    if assignee is not None:
        roster.assigned(assignee.id, number)
    tickets.note_reporter(session, number, person_id=resident.id, group_id=group.id, chat_id=message.talker_id,
                          display_name=message.display_name, room_id=message.room_id,
                          message_id=message.message_id, now=notify.now)
    open_now.opened(number, group_id=group.id, category=result.category, signature=sig,
                    assignee_id=assignee.id if assignee else None, team=team, reporter_id=resident.id)
    emergency = result.urgency == "emergency"
    priority = URGENT_PRIORITY if emergency else 0
    if result.intent == "inquiry":
        ack = texts.inquiry_ack(number, when)
    else:
        ack = texts.report_ack(number, result.category, assignee.name if assignee else None, when)
    if emergency:
        ack = texts.emergency_ack(number, first_advice(message.text, settings.hotlines))
    await _reply_to(notify, f"ticket:{number}:ack", message, group, ack, priority)

    mention = [assignee] if assignee else []
    if emergency:  # everyone who can act, at once
        mention += [p for p in await roster.supervisors(session) if p not in mention]
    alert = texts.staff_alert(
        number=number, intent=result.intent, category=result.category, urgency=result.urgency,
        group_topic=group.topic, grid_name=settings.grid_name(group.grid_id), resident=message.display_name,
        text=message.text, keywords=result.keywords, assignee=assignee.name if assignee else None,
        due=texts.local_time(due, settings.community.tz),
    )
    await notify.to_staff(f"ticket:{number}:alert", alert, mention=mention, priority=priority, team=team)
    tickets.note_event(session, number, "alerted", ", ".join(p.name for p in mention), actor_id=None,
                       now=notify.now)
    return number
