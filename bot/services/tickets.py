"""The ticket loop's rules — take, reassign, resolve, reopen, recategorise, note, rate, withdraw —
used the same way by staff chat commands and the web console, so residents hear back the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.config import Settings
from bot.nlp.labels import CATEGORY_ZH, URGENCY_ZH
from bot.services.clock import deadlines
from bot.services.notify import Notifier
from storage import directory, tickets
from storage.models import Group, Person, Ticket, TicketEvent, TicketReporter

OPEN = ("open", "in_progress")


class ServiceError(Exception):
    """A polite Chinese explanation of why the action cannot be done."""


async def get_ticket(session: AsyncSession, number: int | None) -> Ticket:
    ticket = await session.get(Ticket, number) if number else None
    if ticket is None:
        raise ServiceError(f"没有找到工单 #{number}，请核对工单号。")
    return ticket


def _require(ticket: Ticket, statuses: tuple[str, ...], action: str) -> None:
    if ticket.status not in statuses:
        raise ServiceError(f"#{ticket.id} 目前是「{texts.STATUS_ZH[ticket.status]}」，不能{action}。")


def _due(settings: Settings, ticket: Ticket) -> str:
    return texts.local_time(ticket.due_at, settings.community.tz)


async def take(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person) -> str:
    _require(ticket, OPEN, "接单")
    if ticket.status == "in_progress" and ticket.assignee_id == actor.id:
        raise ServiceError(f"#{ticket.id} 您已经接单了。")
    ticket.status = "in_progress"
    ticket.assignee_id = actor.id
    if ticket.first_response_at is None:
        ticket.first_response_at = notify.now
    event = await tickets.add_event(session, ticket.id, "taken", actor.name, actor_id=actor.id, now=notify.now)
    await notify.to_reporters(ticket, f"event:{event.id}",
                              texts.taken_for_resident(ticket.id, actor.name))
    return f"#{ticket.id} 已由{actor.name}接单，请在 {_due(notify.settings, ticket)} 前回复居民。"


async def reassign(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person, name: str) -> str:
    _require(ticket, OPEN, "转派")
    target = await directory.staff_named(session, name)
    if target is None:
        raise ServiceError(f"工作人员名单里没有「{name}」，请写配置里的姓名。")
    ticket.assignee_id = target.id
    ticket.status = "open"  # the new assignee still has to take it
    event = await tickets.add_event(session, ticket.id, "reassigned", f"{actor.name} → {target.name}",
                                    actor_id=actor.id, now=notify.now)
    await notify.to_staff(f"event:{event.id}",
                          texts.reassigned_alert(ticket.id, actor.name, target.name), mention=[target])
    return f"#{ticket.id} 已转派给{target.name}。"


async def resolve(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person, note: str) -> str:
    _require(ticket, OPEN, "办结")
    ticket.status = "resolved"
    ticket.resolution = note
    ticket.resolved_at = notify.now
    ticket.satisfaction = None
    if ticket.first_response_at is None:
        ticket.first_response_at = notify.now
    if ticket.assignee_id is None:
        ticket.assignee_id = actor.id
    event = await tickets.add_event(session, ticket.id, "resolved", note, actor_id=actor.id, now=notify.now)
    await notify.to_reporters(ticket, f"event:{event.id}",
                              texts.resolved_for_resident(ticket.id, note))
    return f"#{ticket.id} 已办结，已通知居民并请其评价。"


async def reopen(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person | None, reason: str,
                 *, by_label: str | None = None) -> str:
    _require(ticket, ("resolved", "closed"), "重开")
    ticket.status = "open"
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.reminded_at = ticket.escalated_at = None
    ticket.due_at = deadlines(notify.settings, ticket.urgency, notify.now)[1]
    event = await tickets.add_event(session, ticket.id, "reopened", reason,
                                    actor_id=actor.id if actor else None, now=notify.now)
    assignee = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    who = by_label or (actor.name if actor else "系统")
    await notify.to_staff(f"event:{event.id}",
                          texts.reopened_alert(ticket.id, reason, who),
                          mention=[assignee] if assignee else [], team=ticket.team)
    return f"#{ticket.id} 已重开。"


async def recategorise(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person, category: str) -> str:
    if category not in CATEGORY_ZH or category == "none":
        raise ServiceError(f"不认识的类别「{category}」。")
    old = ticket.category
    ticket.category = category
    await tickets.add_event(session, ticket.id, "recategorised", f"{old} → {category}", actor_id=actor.id,
                            now=notify.now)
    return f"#{ticket.id} 类别已改为「{CATEGORY_ZH[category]}」。"


async def add_note(session: AsyncSession, notify: Notifier, ticket: Ticket, actor: Person, note: str) -> str:
    await tickets.add_event(session, ticket.id, "note", note, actor_id=actor.id, now=notify.now)
    return f"#{ticket.id} 已添加备注。"


async def rate(session: AsyncSession, notify: Notifier, ticket: Ticket, resident: Person, satisfied: bool,
               reason: str = "") -> str:
    """满意 closes the ticket; 不满意 reopens it and tells staff."""
    _require(ticket, ("resolved",), "评价")
    ticket.feedback_at = notify.now
    if satisfied:
        ticket.satisfaction = "satisfied"
        ticket.status = "closed"
        ticket.closed_at = notify.now
        await tickets.add_event(session, ticket.id, "rated", "satisfied", actor_id=resident.id, now=notify.now)
        return texts.thanks_for_rating()
    ticket.satisfaction = "dissatisfied"
    await tickets.add_event(session, ticket.id, "rated", "dissatisfied", actor_id=resident.id, now=notify.now)
    await reopen(session, notify, ticket, resident, reason or "居民表示不满意", by_label=f"居民{resident.name}不满意")
    return texts.sorry_reopened(ticket.id)


async def withdraw(session: AsyncSession, notify: Notifier, ticket: Ticket, resident: Person) -> str:
    if ticket.reporter_id != resident.id:
        raise ServiceError(f"#{ticket.id} 不是您登记的工单，不能撤销。")
    _require(ticket, OPEN, "撤销")
    await tickets.cancel(session, ticket, reason="居民撤销", actor_id=resident.id, now=notify.now)
    await notify.to_staff(f"ticket:{ticket.id}:cancelled", texts.withdrawn_alert(ticket.id, resident.name),
                          team=ticket.team)
    return texts.withdrawn_for_resident(ticket.id)


# -- reading ---------------------------------------------------------------------------------

async def describe(session: AsyncSession, settings: Settings, ticket: Ticket) -> str:
    """查询 #N: status, reporters, assignee, due, and the timeline."""
    group = await session.get(Group, ticket.group_id)
    assignee = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    reporters = (await session.scalars(
        select(TicketReporter.display_name).where(TicketReporter.ticket_id == ticket.id)
        .order_by(TicketReporter.created_at))).all()
    tz = settings.community.tz
    lines = [
        f"#{ticket.id}｜{CATEGORY_ZH[ticket.category]}｜{URGENCY_ZH[ticket.urgency]}｜{texts.STATUS_ZH[ticket.status]}",
        f"群聊：{group.topic if group else ''}",
        f"反映人：{'、'.join(reporters)}",
        f"原话：{texts.quote(ticket.text, 120)}",
        f"处理人：{assignee.name if assignee else '未分配'}｜截止：{texts.local_time(ticket.due_at, tz)}",
    ]
    if ticket.satisfaction:
        lines.append(f"评价：{texts.SATISFACTION_ZH[ticket.satisfaction]}")
    events = (await session.execute(
        select(TicketEvent, Person.name).outerjoin(Person, Person.id == TicketEvent.actor_id)
        .where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))).all()
    lines.append("经过：")
    for event, name in events[-10:]:
        detail = f"：{texts.quote(event.detail, 60)}" if event.kind in _SHOWN_DETAIL else ""
        lines.append(f"· {texts.local_time(event.created_at, tz)} {name or '小助手'} {_EVENT_ZH.get(event.kind, event.kind)}{detail}")
    return "\n".join(lines)


_EVENT_ZH = {
    "created": "登记", "assigned": "分派", "alerted": "通知工作群", "taken": "接单", "reassigned": "转派",
    "resolved": "办结", "reopened": "重开", "recategorised": "改类", "note": "备注", "rated": "评价",
    "cancelled": "取消", "photo": "补充照片", "joined": "附议", "reminded": "提醒", "escalated": "超时督办",
    "feedback_timeout": "未评价，自动完结",
}
_SHOWN_DETAIL = {"resolved", "reopened", "note", "reassigned", "recategorised", "cancelled", "rated", "taken"}


async def todo(session: AsyncSession, settings: Settings, person: Person, now: datetime) -> str:
    """待办: my open tickets; a supervisor sees all; overdue first."""
    query = select(Ticket).where(Ticket.status.in_(OPEN))
    if person.role != "supervisor":
        query = query.where(Ticket.assignee_id == person.id)
    rows = list((await session.scalars(query.order_by(Ticket.due_at).limit(30))).all())
    if not rows:
        return "目前没有待办工单。"
    tz = settings.community.tz
    lines = [f"待办工单（{len(rows)} 条，超时的在前）："]
    for t in sorted(rows, key=lambda t: (t.due_at > now, t.due_at)):
        flag = "【超时】" if t.due_at <= now else ""
        lines.append(f"{flag}#{t.id} {CATEGORY_ZH[t.category]}｜{texts.STATUS_ZH[t.status]}｜"
                     f"截止 {texts.local_time(t.due_at, tz)}｜{texts.quote(t.text, 30)}")
    return "\n".join(lines)


async def resident_status(session: AsyncSession, settings: Settings, resident: Person) -> str:
    """查询 / 进度 for a resident: their tickets still open or waiting for their rating."""
    rows = (await session.scalars(
        select(Ticket).join(TicketReporter, TicketReporter.ticket_id == Ticket.id)
        .where(TicketReporter.person_id == resident.id, Ticket.status.in_(OPEN + ("resolved",)))
        .order_by(Ticket.id))).all()
    if not rows:
        return texts.no_open_tickets()
    tz = settings.community.tz
    lines = ["您的工单："]
    for t in rows:
        lines.append(f"#{t.id} {CATEGORY_ZH[t.category]}｜{texts.STATUS_ZH[t.status]}｜"
                     f"预计 {texts.local_time(t.due_at, tz)} 前回复")
    return "\n".join(lines)
