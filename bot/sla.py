"""SLA clock arithmetic: when a ticket is due, how much working time has elapsed.

Pure functions over timezone-aware datetimes; no I/O. The county assesses
communities on the 12345 hotline norms (feedback within N hours by urgency).
The clock either runs around the clock (`calendar=None`) or only in working
hours (`WorkingHours`): evenings, non-working weekdays and holidays do not
count, make-up working days (调休, on a weekend) do.

Calendar arithmetic happens in the calendar's time zone; results are in UTC.
Durations are absolute (a working day that contains a DST change is an hour
longer or shorter). A wall-clock boundary maps to the first instant at which
the local clock shows that time or later: an ambiguous time (clocks going back)
is its first occurrence, a time skipped by clocks going forward is the moment
of the jump.

The invariant: for h >= 0, `working_time_between(a, due_at(a, h, c), c)` is
exactly `timedelta(hours=h)` (to the microsecond), and `due_at` is the earliest
instant at which that much working time has elapsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["MAX_HOURS", "WorkingHours", "due_at", "parse_dates", "reminder_at", "working_time_between"]

UTC = timezone.utc
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
MAX_HOURS = 100_000  # about 11 years around the clock; keeps every loop short
_SPEC = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class WorkingHours:
    """When the SLA clock runs: `start`-`end` local time on working days.

    A date is a working day if it is in `workdays` (调休 make-up days), or its
    ISO weekday is in `days` and it is not in `holidays`. `end == time(0)`
    means midnight at the end of the day ("24:00"), so 00:00-00:00 is all day.
    """

    start: time
    end: time
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours: start and end are local wall-clock times without tzinfo")
        if not (self.start < self.end or self.end == time(0)):
            raise ValueError(
                f"working hours: end {self.end:%H:%M} must be after start {self.start:%H:%M} "
                "(overnight shifts are not supported; use 24:00 for midnight)"
            )
        bad = sorted(d for d in self.days if not (isinstance(d, int) and 1 <= d <= 7))
        if bad:
            raise ValueError(f"working days: {bad} are not ISO weekdays (1 = Monday … 7 = Sunday)")
        if not self.days and not self.workdays:
            raise ValueError("working days: the calendar has no working days at all")
        if not isinstance(self.tz, ZoneInfo):
            raise ValueError(f"working hours: tz must be a zoneinfo.ZoneInfo, not {type(self.tz).__name__}")

    @classmethod
    def parse(
        cls,
        spec: str,
        days: Iterable[int] = (1, 2, 3, 4, 5),
        holidays: Iterable[date | str] = (),
        workdays: Iterable[date | str] = (),
        tz: ZoneInfo | str = "Asia/Shanghai",
    ) -> WorkingHours:
        """Build from config values: spec "08:30-17:30" ("00:00-24:00" = all day).

        `holidays` / `workdays` items are dates, "YYYY-MM-DD" strings or
        inclusive ranges "YYYY-MM-DD..YYYY-MM-DD". Raises ValueError (also for
        wrong types, so pydantic validators report it) saying what is wrong.
        """
        m = _SPEC.match(spec) if isinstance(spec, str) else None
        if not m:
            raise ValueError(f"working hours: expected HH:MM-HH:MM such as 08:30-17:30, got {spec!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start = _wall_time(h1, m1, spec, allow_24=False)
        end = _wall_time(h2, m2, spec, allow_24=True)
        if not (start < end or end == time(0)):
            raise ValueError(f"working hours: end must be after start in {spec!r} (overnight shifts are not supported)")
        if isinstance(tz, str):
            try:
                tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"working hours: unknown time zone {tz!r} (use e.g. Asia/Shanghai)") from None
        try:
            day_set = frozenset(int(d) for d in days)
        except (TypeError, ValueError):
            raise ValueError(f"working days: expected ISO weekday numbers 1-7, got {days!r}") from None
        return cls(
            start=start,
            end=end,
            days=day_set,
            holidays=parse_dates(holidays, what="holidays"),
            workdays=parse_dates(workdays, what="workdays"),
            tz=tz,
        )

    # -- queries -------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() in self.days and day not in self.holidays

    def is_working_time(self, moment: datetime) -> bool:
        """Whether the SLA clock runs at this aware instant."""
        t = _utc(moment, "moment")
        local_day = t.astimezone(self.tz).date()
        return any(s <= t < e for s, e in self._intervals(local_day - _ONE_DAY, local_day + _ONE_DAY))

    # -- internals -----------------------------------------------------------------
    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC working interval of a local date, or None on a day off."""
        if not self.is_working_day(day):
            return None
        s = _first_instant(day, self.start, self.tz)
        if self.end == time(0):  # 24:00
            e = _first_instant(day + _ONE_DAY, time(0), self.tz)
        else:
            e = _first_instant(day, self.end, self.tz)
        return (s, e) if s < e else None

    def _last_day(self) -> date | None:
        """After this date there are no working days (only when `days` is empty)."""
        return None if self.days else max(self.workdays)

    def _first_day(self) -> date | None:
        return None if self.days else min(self.workdays)

    def _intervals(self, first: date, last: date | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals from local date `first` onwards (to `last` inclusive)."""
        stop = self._last_day()
        if last is not None and (stop is None or last < stop):
            stop = last
        day = first
        while stop is None or day <= stop:
            iv = self._interval(day)
            if iv is not None:
                yield iv
            day += _ONE_DAY

    def _intervals_backwards(self, last: date) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals from local date `last` backwards."""
        stop = self._first_day()
        day = last
        while stop is None or day >= stop:
            iv = self._interval(day)
            if iv is not None:
                yield iv
            day -= _ONE_DAY


def due_at(start: datetime, hours: float, calendar: WorkingHours | None = None) -> datetime:
    """The instant (UTC) at which `hours` of SLA time have elapsed since `start`.

    Without a calendar this is plain elapsed time. With one, only working time
    counts; a ticket created outside working hours starts counting at the next
    working start. `hours == 0` returns `start` itself.
    """
    t = _utc(start, "start")
    remaining = _hours(hours)
    if calendar is None or remaining == _ZERO:
        return t + remaining
    for s, e in calendar._intervals(t.astimezone(calendar.tz).date() - _ONE_DAY):
        if e <= t:
            continue
        begin = max(s, t)
        available = e - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValueError(f"calendar has no working time left after {calendar._last_day()} to fit {hours} hours")


def working_time_between(a: datetime, b: datetime, calendar: WorkingHours | None = None) -> timedelta:
    """SLA time elapsed from `a` to `b` (negative if `b` is before `a`)."""
    ta, tb = _utc(a, "a"), _utc(b, "b")
    if tb < ta:
        return -working_time_between(tb, ta, calendar)
    if calendar is None:
        return tb - ta
    total = _ZERO
    tz = calendar.tz
    for s, e in calendar._intervals(ta.astimezone(tz).date() - _ONE_DAY, tb.astimezone(tz).date() + _ONE_DAY):
        if s >= tb:
            break
        overlap = min(e, tb) - max(s, ta)
        if overlap > _ZERO:
            total += overlap
    return total


def reminder_at(
    created: datetime,
    due: datetime,
    lead_fraction: float = 0.25,
    min_lead: timedelta = timedelta(minutes=30),
    *,
    calendar: WorkingHours | None = None,
) -> datetime:
    """When (UTC) to remind the assignee: `lead_fraction` of the window before `due`.

    The lead is at least `min_lead`, and the reminder is never before `created`
    (nor after `due`). With a calendar the window and the lead are measured in
    working time, so the reminder falls in working hours where possible.
    """
    tc, td = _utc(created, "created"), _utc(due, "due")
    if not (0 <= lead_fraction <= 1) or math.isnan(lead_fraction):
        raise ValueError(f"lead_fraction must be between 0 and 1, got {lead_fraction}")
    if min_lead < _ZERO:
        raise ValueError(f"min_lead must not be negative, got {min_lead}")
    if td < tc:
        raise ValueError(f"due {td.isoformat()} is before created {tc.isoformat()}")
    window = working_time_between(tc, td, calendar)
    lead = max(_round_us(window * lead_fraction), min_lead)
    if lead >= window:
        return tc
    if calendar is None:
        return td - lead
    return _before(td, lead, calendar)


def parse_dates(items: Iterable[date | str], what: str = "dates") -> frozenset[date]:
    """Dates from config: date objects, "YYYY-MM-DD" or inclusive "YYYY-MM-DD..YYYY-MM-DD"."""
    if isinstance(items, (str, date)):
        items = [items]
    out: set[date] = set()
    for item in items:
        if isinstance(item, datetime):
            raise ValueError(f"{what}: expected a date, got the datetime {item.isoformat()}")
        if isinstance(item, date):
            out.add(item)
            continue
        if not isinstance(item, str):
            raise ValueError(f"{what}: expected a date or 'YYYY-MM-DD', got {item!r}")
        first_s, sep, last_s = item.strip().partition("..")
        try:
            first = date.fromisoformat(first_s.strip())
            last = date.fromisoformat(last_s.strip()) if sep else first
        except ValueError:
            raise ValueError(f"{what}: {item!r} is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None
        if last < first:
            raise ValueError(f"{what}: range {item!r} ends before it starts")
        if (last - first).days > 366:
            raise ValueError(f"{what}: range {item!r} is longer than a year")
        day = first
        while day <= last:
            out.add(day)
            day += _ONE_DAY
    return frozenset(out)


# -- helpers -------------------------------------------------------------------------
def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name}: expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _hours(hours: float) -> timedelta:
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not (0 <= hours <= MAX_HOURS):
        raise ValueError(f"hours must be a number from 0 to {MAX_HOURS}, got {hours!r}")
    return timedelta(hours=hours)


def _round_us(delta: timedelta) -> timedelta:
    return timedelta(microseconds=round(delta / timedelta(microseconds=1)))


def _wall_time(hour: int, minute: int, spec: str, allow_24: bool) -> time:
    if allow_24 and (hour, minute) == (24, 0):
        return time(0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"working hours: {hour:02d}:{minute:02d} in {spec!r} is not a time of day")
    return time(hour, minute)


def _first_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock on `day` shows `wall` or later."""
    local = datetime.combine(day, wall, tzinfo=tz)
    off0 = local.utcoffset() or timedelta(0)
    off1 = local.replace(fold=1).utcoffset() or timedelta(0)
    naive = local.replace(tzinfo=None)
    if off0 >= off1:  # an ordinary time, or the first occurrence of an ambiguous one
        return (naive - off0).replace(tzinfo=UTC)
    # Skipped by clocks going forward: find the jump between the two readings.
    lo = (naive - off1).replace(tzinfo=UTC)  # still before the jump
    hi = (naive - off0).replace(tzinfo=UTC)  # already after it
    step = timedelta(microseconds=1)
    while hi - lo > step:
        mid = lo + _round_us((hi - lo) / 2)
        if mid.astimezone(tz).utcoffset() == off1:
            hi = mid
        else:
            lo = mid
    return hi


def _before(due: datetime, lead: timedelta, calendar: WorkingHours) -> datetime:
    """The latest instant r <= due with `lead` working time between r and due."""
    remaining = lead
    for s, e in calendar._intervals_backwards(due.astimezone(calendar.tz).date() + _ONE_DAY):
        if s >= due:
            continue
        end = min(e, due)
        available = end - s
        if remaining <= available:
            return end - remaining
        remaining -= available
    raise ValueError("calendar has no working time before due")  # pragma: no cover - guarded by caller
