"""Ad-hoc notices from supervisors: 通知 全部 内容 → preview → 确认发送 → paced through the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.events import Outgoing
from bot.services.notify import Notifier
from storage.models import Notice, Person

DRAFT_LIFETIME = timedelta(hours=2)
MAX_NOTICE = 1000
_DRAFT = re.compile(r"^\s*通知[\s:：]+(\S+)[\s:：]+(.+)$", re.S)
_CONFIRM = re.compile(r"^\s*(确认发送|确认群发)\s*[。!！]?\s*$")
_DISCARD = re.compile(r"^\s*(取消通知|取消发送|作废)\s*[。!！]?\s*$")


@dataclass(frozen=True)
class NoticeCommand:
    verb: str  # draft | confirm | discard
    target: str = ""
    text: str = ""


def parse(text: str) -> NoticeCommand | None:
    text = text[:MAX_NOTICE + 100]
    if _CONFIRM.match(text):
        return NoticeCommand("confirm")
    if _DISCARD.match(text):
        return NoticeCommand("discard")
    match = _DRAFT.match(text)
    if match:
        return NoticeCommand("draft", match.group(1), match.group(2).strip())
    return None


def resident_topics(settings: Settings) -> list[str]:
    return [g.topic for g in settings.groups if g.role == "residents"]


async def draft(session: AsyncSession, settings: Settings, author: Person, command: NoticeCommand,
                now: datetime) -> str:
    topics = resident_topics(settings)
    if command.target in ("全部", "所有", "全部群", "所有群"):
        targets = topics
    elif command.target in topics:
        targets = [command.target]
    else:
        return f"没有找到群「{command.target}」。可以写「全部」，或以下群名之一：{'、'.join(topics)}"
    if len(command.text) > MAX_NOTICE:
        return f"通知太长了（最多 {MAX_NOTICE} 字），请精简后再发。"
    for old in await _drafts(session, author.id, now):
        old.status = "discarded"
    session.add(Notice(author_id=author.id, targets=targets, text=command.text, status="draft", created_at=now))
    await session.flush()
    return (f"【通知预览】将发送到 {len(targets)} 个群：{'、'.join(targets)}\n"
            f"{notice_text(settings, command.text)}\n"
            "确认无误请回复\u201c确认发送\u201d，不发了请回复\u201c取消通知\u201d（2 小时内有效）。")


def notice_text(settings: Settings, text: str) -> str:
    return f"【{settings.community.name}通知】{text}"


async def _drafts(session: AsyncSession, author_id: int, now: datetime) -> list[Notice]:
    rows = await session.scalars(select(Notice).where(
        Notice.author_id == author_id, Notice.status == "draft", Notice.created_at >= now - DRAFT_LIFETIME
    ).order_by(Notice.id.desc()))
    return list(rows.all())


async def confirm(session: AsyncSession, notify: Notifier, author: Person) -> str:
    drafts = await _drafts(session, author.id, notify.now)
    if not drafts:
        return "没有待确认的通知。先发「通知 全部 内容」或「通知 群名 内容」。"
    notice = drafts[0]
    notice.status, notice.sent_at = "sent", notify.now
    for topic in notice.targets:
        group = notify.settings.group_by_topic(topic)
        await notify.send(f"notice:{notice.id}:{topic}",
                          Outgoing(text=notice_text(notify.settings, notice.text), room_topic=topic,
                                   room_id=group.room_id if group else None))
    return f"通知已排队发送到 {len(notice.targets)} 个群，会按每群间隔几秒依次发出。"


async def discard(session: AsyncSession, author: Person, now: datetime) -> str:
    drafts = await _drafts(session, author.id, now)
    for notice in drafts:
        notice.status = "discarded"
    return "已取消这条通知。" if drafts else "没有待确认的通知。"
