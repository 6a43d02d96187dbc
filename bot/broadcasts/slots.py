"""When a schedule fires: cron slots in season, holiday eves, jitter, and quiet hours. Pure functions."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.broadcasts.settings import _RANGE, BroadcastGlobals, BroadcastSettings, parse_hhmm

MAX_SLOTS = 10_000  # bounds a sweep over a long outage


def in_season(schedule: BroadcastSettings, day: date) -> bool:
    if not schedule.months and not schedule.date_ranges:
        return True
    if day.month in schedule.months:
        return True
    for item in schedule.date_ranges:
        m1, d1, m2, d2 = (int(x) for x in _RANGE.match(item).groups())
        if (m1, d1) <= (day.month, day.day) <= (m2, d2):
            return True
    return False


def slots_between(schedule: BroadcastSettings, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Slot times in (start, end], UTC: cron times in season plus the extra days."""
    out: list[datetime] = []
    it = croniter(schedule.cron, start.astimezone(tz))
    while len(out) < MAX_SLOTS:
        moment = it.get_next(datetime)
        if moment > end:
            break
        if in_season(schedule, moment.date()):
            out.append(moment.astimezone(timezone.utc))
    extra = parse_hhmm(schedule.extra_time)
    for day in schedule.extra_days:
        moment = datetime.combine(day, extra, tzinfo=tz).astimezone(timezone.utc)
        if start < moment <= end and moment not in out:
            out.append(moment)
    return sorted(out)


def next_slot(schedule: BroadcastSettings, after: datetime, tz: ZoneInfo, horizon_days: int = 400) -> datetime | None:
    found = slots_between(schedule, after, after + timedelta(days=horizon_days), tz)
    return found[0] if found else None


def jitter(schedule: BroadcastSettings, slot: datetime) -> timedelta:
    """A spread that every instance computes alike (so they agree on when the slot is due)."""
    if not schedule.jitter_minutes:
        return timedelta(0)
    digest = hashlib.sha256(f"{schedule.name}|{slot.isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return timedelta(minutes=schedule.jitter_minutes * fraction)


def in_quiet_hours(moment: datetime, rules: BroadcastGlobals, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz).time()
    start, end = parse_hhmm(rules.quiet_start), parse_hhmm(rules.quiet_end)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # over midnight, e.g. 22:00-08:00


def send_time(schedule: BroadcastSettings, slot: datetime, rules: BroadcastGlobals, tz: ZoneInfo) -> datetime:
    """When the slot may go: slot + jitter, moved out of quiet hours to the next morning."""
    return quiet_end_after(slot + jitter(schedule, slot), rules, tz)


def quiet_end_after(moment: datetime, rules: BroadcastGlobals, tz: ZoneInfo) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in."""
    if not in_quiet_hours(moment, rules, tz):
        return moment
    end: time = parse_hhmm(rules.quiet_end)
    local = moment.astimezone(tz)
    morning = datetime.combine(local.date(), end, tzinfo=tz)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(timezone.utc)
