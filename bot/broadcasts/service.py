"""Queue broadcasts exactly once per (schedule, slot), rotating tips per group; the weekly digest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasts import content as content_files
from bot.broadcasts.settings import BroadcastSettings
from bot.broadcasts.slots import next_slot, quiet_end_after, send_time, slots_between
from bot.config import Settings
from bot.events import Outgoing
from bot.services import stats
from bot.services.notify import Notifier
from storage.models import BroadcastSend, BroadcastSlot
from storage.sql import insert_ignore

log = logging.getLogger(__name__)

BROADCAST_PRIORITY = -1  # replies to residents go first
DIGEST = "weekly_digest"


def targets(settings: Settings, schedule: BroadcastSettings) -> list[str]:
    if schedule.groups:
        return [g for g in schedule.groups if settings.group_by_topic(g) is not None]
    return [g.topic for g in settings.groups if g.role == "residents"]


def slot_key(settings: Settings, name: str) -> str:
    """Instances of different accounts each send their own schedules; one account's instances share them."""
    account = settings.transport.account
    return name if account == "default" else f"{account}:{name}"


async def claim_slot(session: AsyncSession, schedule: str, slot: datetime, now: datetime, status: str,
                     detail: str = "") -> BroadcastSlot | None:
    """The one instance that inserts the (schedule, slot) row owns it; everyone else gets None."""
    inserted = await insert_ignore(session, BroadcastSlot,
                                   {"schedule": schedule, "slot_at": slot, "status": status, "detail": detail,
                                    "created_at": now}, ["schedule", "slot_at"])
    if not inserted:
        return None
    return await session.scalar(select(BroadcastSlot).where(BroadcastSlot.schedule == schedule,
                                                            BroadcastSlot.slot_at == slot))


async def next_tip(session: AsyncSession, schedule: str, group: str, tips: tuple[content_files.Tip, ...]):
    """The first tip (in file order) this group has not had in the current round."""
    sent = (await session.scalars(
        select(BroadcastSend.tip_id).where(BroadcastSend.schedule == schedule, BroadcastSend.group_topic == group)
        .order_by(BroadcastSend.id))).all()
    known = {t.id for t in tips}
    sent = [tip_id for tip_id in sent if tip_id in known]  # tips removed from the file no longer count
    this_round = set(sent[len(sent) - len(sent) % len(tips):]) if len(sent) % len(tips) else set()
    return next(t for t in tips if t.id not in this_round)


async def queue_slot(session: AsyncSession, settings: Settings, schedule: BroadcastSettings, slot: BroadcastSlot,
                     now: datetime) -> int:
    """One message per target group, paced by the outbox; returns how many were queued."""
    content = content_files.load(schedule.content)
    notify = Notifier(session, settings, now)
    not_before = quiet_end_after(now, settings.broadcast, settings.community.tz)
    for group in targets(settings, schedule):
        tip = await next_tip(session, schedule.name, group, content.tips)
        session.add(BroadcastSend(slot_id=slot.id, schedule=schedule.name, group_topic=group, tip_id=tip.id,
                                  created_at=now))
        await session.flush()
        group_settings = settings.group_by_topic(group)
        await notify.send(f"broadcast:{slot.id}:{group}",
                          Outgoing(text=content_files.render(content, tip, settings, now), room_topic=group,
                                   room_id=group_settings.room_id if group_settings else None),
                          priority=BROADCAST_PRIORITY, not_before=not_before)
    return len(notify.queued)


def active_schedules(settings: Settings) -> list[BroadcastSettings]:
    return [s for s in settings.broadcasts if s.enabled]


async def sweep(sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    """Queue every slot that is due and not yet taken; skip (and log) those past the grace window."""
    tz, rules = settings.community.tz, settings.broadcast
    grace = timedelta(hours=rules.grace_hours)
    # Look back far enough to see slots delayed by quiet hours or jitter, and missed ones to log.
    since = now - grace - timedelta(days=1)
    queued = 0
    for schedule in active_schedules(settings):
        async with sessions() as session:
            seen = set((await session.scalars(select(BroadcastSlot.slot_at).where(
                BroadcastSlot.schedule == slot_key(settings, schedule.name), BroadcastSlot.slot_at > since))).all())
        for slot in slots_between(schedule, since, now, tz):
            if slot in seen:
                continue
            due = send_time(schedule, slot, rules, tz)
            if due > now:
                continue
            late = now - due > grace
            async with sessions.begin() as session:
                row = await claim_slot(session, slot_key(settings, schedule.name), slot, now,
                                       "skipped" if late else "queued",
                                       "missed while the bot was down" if late else "")
                if row is None:
                    continue  # another instance has it
                if late:
                    log.warning("broadcast %s slot %s was missed by more than %s; skipped", schedule.name,
                                slot.isoformat(), grace)
                    continue
                queued += await queue_slot(session, settings, schedule, row, now)
    queued += await _digest(sessions, settings, now, since, grace)
    return queued


async def send_now(sessions: async_sessionmaker[AsyncSession], settings: Settings, name: str,
                   now: datetime) -> int:
    """`gridbot broadcast send --now NAME`: a manual slot the running bot delivers (quiet hours still hold)."""
    schedule = next((s for s in settings.broadcasts if s.name == name), None)
    if schedule is None:
        raise KeyError(name)
    async with sessions.begin() as session:
        row = await claim_slot(session, slot_key(settings, name), now, now, "queued", "manual")
        return await queue_slot(session, settings, schedule, row, now) if row else 0


async def _digest(sessions, settings: Settings, now: datetime, since: datetime, grace: timedelta) -> int:
    """Monday morning: last week's new, resolved and overdue tickets and the three rates, to the staff group."""
    rules, tz = settings.broadcast, settings.community.tz
    staff = settings.staff_group()
    if not rules.digest_enabled or staff is None:
        return 0
    it = croniter(rules.digest_cron, since.astimezone(tz))
    queued = 0
    while (slot := it.get_next(datetime).astimezone(timezone.utc)) <= now:
        if now - slot > grace:
            continue
        async with sessions.begin() as session:
            row = await claim_slot(session, slot_key(settings, DIGEST), slot, now, "queued")
            if row is None:
                continue
            start, end = stats.period_bounds("week", slot, tz, previous=True)
            report = await stats.build_report(session, start, end, now)
            text = stats.render(report, settings, "上周工作简报")
            notify = Notifier(session, settings, now)
            await notify.to_staff(f"digest:{row.id}", text)
            queued += len(notify.queued)
    return queued


@dataclass(frozen=True)
class ScheduleView:
    name: str
    title: str
    cron: str
    season: str
    next_run: datetime | None
    groups: list[str]
    enabled: bool


def list_schedules(settings: Settings, now: datetime) -> list[ScheduleView]:
    """For `gridbot broadcast list` and the console."""
    tz, rules = settings.community.tz, settings.broadcast
    out = []
    for schedule in settings.broadcasts:
        slot = next_slot(schedule, now, tz) if schedule.enabled else None
        season = "全年"
        if schedule.months:
            season = "、".join(f"{m}月" for m in schedule.months)
        if schedule.extra_days:
            season += f"，另加 {len(schedule.extra_days)} 个节前提醒日"
        out.append(ScheduleView(
            name=schedule.name, title=content_files.load(schedule.content).title, cron=schedule.cron,
            season=season, next_run=send_time(schedule, slot, rules, tz) if slot else None,
            groups=targets(settings, schedule), enabled=schedule.enabled,
        ))
    return out
