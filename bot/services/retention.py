"""Data kept to what is needed: trim the inbox and outbox, anonymise old closed tickets."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import inbox
from storage.models import Attachment, OutboxMessage, Ticket, TicketEvent, TicketReporter

log = logging.getLogger(__name__)

PURGED_TEXT = "（已按保留期限删除）"
# Event details that may quote residents or carry personal details.
_PERSONAL_EVENTS = ("note", "resolved", "reopened", "joined", "photo", "cancelled", "taken", "reassigned")


@dataclass
class PurgeReport:
    inbox: int = 0
    outbox: int = 0
    tickets: int = 0
    photos: int = 0

    def __str__(self) -> str:
        return (f"删除已处理消息 {self.inbox} 条，已发送记录 {self.outbox} 条；"
                f"匿名化旧工单 {self.tickets} 张，删除照片 {self.photos} 张。")


async def trim(session: AsyncSession, settings: Settings, now: datetime) -> PurgeReport:
    """The hourly part: messages that did not become tickets, and old sent messages."""
    report = PurgeReport()
    report.inbox = await inbox.purge_processed(session, now - timedelta(hours=settings.retention.inbox_hours))
    result = await session.execute(delete(OutboxMessage).where(
        OutboxMessage.status.in_(("sent", "failed")),
        OutboxMessage.created_at < now - timedelta(days=settings.retention.outbox_days)))
    report.outbox = result.rowcount or 0
    return report


async def purge(session: AsyncSession, settings: Settings, now: datetime, *, dry_run: bool = False) -> PurgeReport:
    """`gridbot purge`: trim, and anonymise tickets closed before the retention period."""
    report = await trim(session, settings, now)
    cutoff = now - timedelta(days=settings.retention.ticket_days)
    old = (await session.scalars(select(Ticket).where(
        Ticket.status.in_(("closed", "cancelled")), Ticket.closed_at < cutoff, Ticket.text != PURGED_TEXT))).all()
    report.tickets = len(old)
    ids = [t.id for t in old]
    photos = (await session.scalars(select(Attachment).where(Attachment.ticket_id.in_(ids)))).all() if ids else []
    report.photos = len(photos)
    if dry_run or not ids:
        return report
    for photo in photos:
        try:
            os.remove(photo.path)
        except FileNotFoundError:
            pass
        await session.delete(photo)
    await session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(
        text=PURGED_TEXT, resolution="", keywords=[], signature={}, source_message_id=None))
    await session.execute(update(TicketReporter).where(TicketReporter.ticket_id.in_(ids)).values(
        chat_id="", display_name="居民", room_id=None, message_id=None))
    await session.execute(update(TicketEvent).where(
        TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(_PERSONAL_EVENTS)).values(detail=""))
    log.info("anonymised %d tickets closed before %s", len(ids), cutoff.date())
    return report
