"""SLA clock: due times, elapsed working time and reminders (bot/sla.py)."""

from __future__ import annotations

import time as clock
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sla import (
    MAX_HOURS,
    WorkingHours,
    due_at,
    parse_dates,
    reminder_at,
    working_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc

OFFICE = WorkingHours.parse("08:30-17:30", tz=SH)
# Modelled on the 2026 National Day break: 10-01..10-07 off, Sunday 09-20 and Saturday 10-10 worked.
NATIONAL_DAY = WorkingHours.parse(
    "08:30-17:30", holidays=["2026-10-01..2026-10-07"], workdays=[date(2026, 9, 20), "2026-10-10"], tz=SH
)
OFFICE_BERLIN = WorkingHours.parse("08:30-17:30", tz="Europe/Berlin")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# -- without a calendar ----------------------------------------------------------------
def test_plain_arithmetic_returns_utc():
    due = due_at(sh(2026, 5, 4, 10, 0), 2)
    assert due == sh(2026, 5, 4, 12, 0)
    assert due.tzinfo is UTC
    assert due_at(sh(2026, 5, 4, 10, 0), 168) == sh(2026, 5, 11, 10, 0)
    assert due_at(sh(2026, 5, 4, 10, 0), 0.5) == sh(2026, 5, 4, 10, 30)


def test_plain_arithmetic_is_absolute_across_dst():
    # Wall-clock addition would say 13:00 CEST on Sunday is 24 h later; it is 24 h of real time: 13:00.
    # 2026-03-29 02:00 CET -> 03:00 CEST, so 24 real hours after Sat 12:00 CET is Sun 13:00 CEST.
    start = berlin(2026, 3, 28, 12, 0)
    assert due_at(start, 24) == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)
    assert due_at(start, 24).astimezone(BERLIN).hour == 13
    assert working_time_between(start, berlin(2026, 3, 29, 13, 0)) == timedelta(hours=24)


def test_plain_between_is_signed():
    a, b = sh(2026, 5, 4, 10, 0), sh(2026, 5, 4, 12, 0)
    assert working_time_between(a, b) == timedelta(hours=2)
    assert working_time_between(b, a) == -timedelta(hours=2)
    assert working_time_between(b, a, OFFICE) == -timedelta(hours=2)


# -- working hours -----------------------------------------------------------------------
def test_friday_afternoon_rolls_over_the_weekend():
    # Friday 17:00-17:30 counts 30 min, the remaining 1.5 h run from Monday 08:30.
    assert due_at(sh(2026, 3, 27, 17, 0), 2, OFFICE) == sh(2026, 3, 30, 10, 0)


def test_within_one_day_and_exactly_at_closing():
    assert due_at(sh(2026, 5, 6, 9, 0), 2, OFFICE) == sh(2026, 5, 6, 11, 0)
    # The earliest instant with 9 h elapsed is today's closing, not tomorrow's opening.
    assert due_at(sh(2026, 5, 6, 8, 30), 9, OFFICE) == sh(2026, 5, 6, 17, 30)


def test_created_at_night_starts_at_next_opening():
    assert due_at(sh(2026, 5, 6, 23, 15), 2, OFFICE) == sh(2026, 5, 7, 10, 30)
    assert due_at(sh(2026, 5, 7, 3, 0), 2, OFFICE) == sh(2026, 5, 7, 10, 30)
    assert due_at(sh(2026, 5, 7, 17, 30), 1, OFFICE) == sh(2026, 5, 8, 9, 30)


def test_created_on_weekend_starts_on_monday():
    assert due_at(sh(2026, 5, 9, 11, 0), 24, OFFICE) == sh(2026, 5, 13, 14, 30)  # Sat -> Mon, Tue, Wed 6 h
    assert due_at(sh(2026, 5, 10, 22, 0), 2, OFFICE) == sh(2026, 5, 11, 10, 30)


def test_zero_hours_is_the_start_itself():
    start = sh(2026, 5, 9, 11, 0)
    assert due_at(start, 0, OFFICE) == start
    assert due_at(start, 0) == start


def test_national_day_break_with_make_up_days():
    # Wed 09-30 16:00: 1.5 h that day; 10-01..07 off; Thu 10-08 and Fri 10-09 give 18 h;
    # the remaining 4.5 h fall on the make-up Saturday 10-10.
    assert due_at(sh(2026, 9, 30, 16, 0), 24, NATIONAL_DAY) == sh(2026, 10, 10, 13, 0)
    # Without the calendar exceptions the same ticket is due on Monday 10-05.
    assert due_at(sh(2026, 9, 30, 16, 0), 24, OFFICE) == sh(2026, 10, 5, 13, 0)
    # Created during the holiday: counting starts on 10-08.
    assert due_at(sh(2026, 10, 3, 10, 0), 2, NATIONAL_DAY) == sh(2026, 10, 8, 10, 30)
    # The make-up Sunday before counts too.
    assert due_at(sh(2026, 9, 19, 12, 0), 2, NATIONAL_DAY) == sh(2026, 9, 20, 10, 30)
    assert NATIONAL_DAY.is_working_day(date(2026, 9, 20))
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 5))


def test_normal_urgency_168_hours_spans_weeks():
    # 168 h / 9 h = 18 working days + 6 h: Mon 06-01 08:30 -> Thu 06-25 14:30.
    assert due_at(sh(2026, 6, 1, 8, 30), 168, OFFICE) == sh(2026, 6, 25, 14, 30)
    dragon_boat = WorkingHours.parse("08:30-17:30", holidays=["2026-06-19"], tz=SH)
    assert due_at(sh(2026, 6, 1, 8, 30), 168, dragon_boat) == sh(2026, 6, 26, 14, 30)
    assert working_time_between(sh(2026, 6, 1, 8, 30), sh(2026, 6, 26, 14, 30), dragon_boat) == timedelta(hours=168)


def test_working_time_between_for_reports():
    assert working_time_between(sh(2026, 3, 27, 17, 0), sh(2026, 3, 30, 10, 0), OFFICE) == timedelta(hours=2)
    assert working_time_between(sh(2026, 3, 28, 9, 0), sh(2026, 3, 29, 18, 0), OFFICE) == timedelta(0)
    assert working_time_between(sh(2026, 5, 4, 0, 0), sh(2026, 5, 11, 0, 0), OFFICE) == timedelta(hours=45)
    # Any input time zone: the same instants give the same answer.
    a = sh(2026, 3, 27, 17, 0).astimezone(ZoneInfo("America/New_York"))
    assert working_time_between(a, sh(2026, 3, 30, 10, 0).astimezone(UTC), OFFICE) == timedelta(hours=2)


def test_berlin_office_across_spring_forward():
    # Fri 17:00 CET + 2 h -> Mon 10:00 CEST (08:00 UTC); the DST change on Sunday costs nothing.
    assert due_at(berlin(2026, 3, 27, 17, 0), 2, OFFICE_BERLIN) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert due_at(berlin(2026, 10, 23, 17, 0), 2, OFFICE_BERLIN) == berlin(2026, 10, 26, 10, 0)


def test_round_the_clock_calendar_sees_23_and_25_hour_days():
    always = WorkingHours.parse("00:00-24:00", days=range(1, 8), tz=BERLIN)
    spring = working_time_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0), always)
    autumn = working_time_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0), always)
    assert (spring, autumn) == (timedelta(hours=23), timedelta(hours=25))
    # With every day working, the calendar clock equals the plain clock.
    start = berlin(2026, 3, 28, 12, 0)
    assert due_at(start, 100, always) == due_at(start, 100)


def test_working_start_inside_the_dst_gap_starts_at_the_jump():
    # 02:30 does not exist on 2026-03-29 in Berlin; the day starts when clocks jump to 03:00 CEST.
    early = WorkingHours.parse("02:30-17:30", days=range(1, 8), tz=BERLIN)
    assert due_at(berlin(2026, 3, 29, 0, 0), 1, early) == berlin(2026, 3, 29, 4, 0)
    assert working_time_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0), early) == timedelta(hours=14.5)
    # An ambiguous start (clocks go back at 03:00 CEST -> 02:00 CET) is its first occurrence.
    # 02:30 CEST (00:30 UTC) + 1 h is the second 02:30, in CET. (Compare in UTC: Python never
    # finds an ambiguous fold=1 time equal to a time in another zone.)
    due = due_at(berlin(2026, 10, 25, 0, 0), 1, early)
    assert due == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 25, 2, 30)
    assert working_time_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0), early) == timedelta(hours=16)


def test_is_working_time():
    assert OFFICE.is_working_time(sh(2026, 5, 6, 8, 30))
    assert not OFFICE.is_working_time(sh(2026, 5, 6, 17, 30))
    assert not OFFICE.is_working_time(sh(2026, 5, 9, 10, 0))
    assert NATIONAL_DAY.is_working_time(sh(2026, 10, 10, 10, 0).astimezone(UTC))


def test_long_windows_are_fast():
    start = sh(2026, 1, 1, 0, 0)
    t0 = clock.perf_counter()
    due = due_at(start, 10_000, NATIONAL_DAY)
    assert working_time_between(start, due, NATIONAL_DAY) == timedelta(hours=10_000)
    due_at(start, MAX_HOURS, OFFICE_BERLIN)
    assert clock.perf_counter() - t0 < 2


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("17:30-08:30", "end must be after start"),
        ("08:30-08:30", "end must be after start"),
        ("8.30-17.30", "expected HH:MM-HH:MM"),
        ("08:30", "expected HH:MM-HH:MM"),
        ("", "expected HH:MM-HH:MM"),
        ("25:00-26:00", "is not a time of day"),
        ("08:61-17:00", "is not a time of day"),
    ],
)
def test_parse_rejects_bad_specs(spec: str, message: str):
    with pytest.raises(ValueError, match=message):
        WorkingHours.parse(spec)


def test_parse_accepts_variants():
    wh = WorkingHours.parse(" 8:30 - 17:30 ", days=[1, 2, 3, 4, 5, 6])
    assert (wh.start, wh.end, wh.days, wh.tz) == (time(8, 30), time(17, 30), frozenset(range(1, 7)), SH)
    assert WorkingHours.parse("09:00-24:00").end == time(0)
    assert WorkingHours.parse("00:00-24:00", days=range(1, 8)).is_working_time(sh(2026, 5, 9, 23, 59))


def test_parse_rejects_bad_days_zone_and_dates():
    with pytest.raises(ValueError, match="not ISO weekdays"):
        WorkingHours.parse("08:30-17:30", days=[0, 1])
    with pytest.raises(ValueError, match="no working days"):
        WorkingHours.parse("08:30-17:30", days=[])
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingHours.parse("08:30-17:30", tz="Mars/Olympus")
    with pytest.raises(ValueError, match="holidays: '2026-13-01'"):
        WorkingHours.parse("08:30-17:30", holidays=["2026-13-01"])
    with pytest.raises(ValueError, match="ends before it starts"):
        WorkingHours.parse("08:30-17:30", workdays=["2026-10-07..2026-10-01"])
    with pytest.raises(ValueError, match="end 08:00 must be after start 09:00"):
        WorkingHours(start=time(9), end=time(8))


def test_parse_dates():
    assert parse_dates(["2026-10-01..2026-10-03", date(2026, 1, 1)]) == {
        date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3), date(2026, 1, 1)
    }
    assert parse_dates("2026-05-01") == {date(2026, 5, 1)}


def test_inputs_must_be_aware_and_hours_sane():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 5, 4, 10, 0), 2, OFFICE)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time_between(sh(2026, 5, 4), datetime(2026, 5, 5), OFFICE)
    for bad in (-1, float("nan"), float("inf"), MAX_HOURS + 1):
        with pytest.raises(ValueError, match="hours must be"):
            due_at(sh(2026, 5, 4, 10, 0), bad, OFFICE)


def test_only_make_up_days_then_nothing_left():
    only = WorkingHours.parse("08:30-17:30", days=[], workdays=["2026-10-10"], tz=SH)
    assert due_at(sh(2026, 10, 1), 2, only) == sh(2026, 10, 10, 10, 30)
    with pytest.raises(ValueError, match="no working time left"):
        due_at(sh(2026, 10, 1), 10, only)


# -- reminders -------------------------------------------------------------------------------
def test_reminder_with_a_quarter_of_the_window_left():
    created = sh(2026, 5, 4, 10, 0)
    assert reminder_at(created, sh(2026, 5, 5, 10, 0)) == sh(2026, 5, 5, 4, 0)
    assert reminder_at(created, sh(2026, 5, 5, 10, 0), lead_fraction=0.5) == sh(2026, 5, 4, 22, 0)


def test_reminder_at_least_min_lead_before_due():
    created = sh(2026, 5, 4, 10, 0)
    assert reminder_at(created, sh(2026, 5, 4, 11, 0)) == sh(2026, 5, 4, 10, 30)  # 15 min < 30 min
    assert reminder_at(created, sh(2026, 5, 4, 12, 0), min_lead=timedelta(hours=1)) == sh(2026, 5, 4, 11, 0)


def test_reminder_never_before_created():
    created = sh(2026, 5, 4, 10, 0)
    assert reminder_at(created, sh(2026, 5, 4, 10, 20)) == created
    assert reminder_at(created, created) == created
    with pytest.raises(ValueError, match="before created"):
        reminder_at(created, sh(2026, 5, 4, 9, 0))
    with pytest.raises(ValueError, match="lead_fraction"):
        reminder_at(created, sh(2026, 5, 4, 12, 0), lead_fraction=1.5)


def test_reminder_in_working_time():
    # Created Fri 17:00, due Mon 10:00 (2 working hours): a quarter of that is 30 min -> Mon 09:30,
    # where the plain clock would remind on Sunday evening.
    created, due = sh(2026, 3, 27, 17, 0), sh(2026, 3, 30, 10, 0)
    assert reminder_at(created, due, calendar=OFFICE) == sh(2026, 3, 30, 9, 30)
    assert reminder_at(created, due) == sh(2026, 3, 29, 17, 45)
    # Window 1 h (Fri 17:00-17:30, Mon 08:30-09:00), lead 1 h: remind at once.
    assert reminder_at(created, sh(2026, 3, 30, 9, 0), min_lead=timedelta(hours=1), calendar=OFFICE) == created
    # Window 18 h (Thu 8.5, Fri 9, Mon 0.5), lead 4.5 h: Mon 0.5 h, then 4 h back from Fri 17:30.
    assert reminder_at(sh(2026, 3, 26, 9, 0), sh(2026, 3, 30, 9, 0), calendar=OFFICE) == sh(2026, 3, 27, 13, 30)


# -- properties --------------------------------------------------------------------------------
CALENDARS = [
    None,
    OFFICE,
    NATIONAL_DAY,
    OFFICE_BERLIN,
    WorkingHours.parse("02:30-17:30", days=range(1, 8), tz=BERLIN),
    WorkingHours.parse("00:00-24:00", days=[1, 3, 5, 7], holidays=["2026-10-25"], tz=BERLIN),
    WorkingHours.parse("09:00-17:00", tz="America/New_York", holidays=["2026-11-26"]),
    WorkingHours.parse("01:45-02:15", days=range(1, 8), tz="Australia/Lord_Howe"),  # 30-min DST
]
ZONES = st.sampled_from([SH, BERLIN, UTC, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")])
STARTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=ZONES)
HOURS = st.one_of(
    st.integers(min_value=0, max_value=400),
    st.floats(min_value=0, max_value=2000, allow_nan=False),
    st.sampled_from([2, 24, 168]),
)


@settings(max_examples=300, deadline=None)
@given(start=STARTS, hours=HOURS, calendar=st.sampled_from(CALENDARS))
def test_due_at_and_working_time_between_are_inverse(start, hours, calendar):
    due = due_at(start, hours, calendar)
    assert due.tzinfo is UTC
    assert due >= start.astimezone(UTC)
    assert working_time_between(start, due, calendar) == timedelta(hours=hours)
    if calendar is not None and timedelta(hours=hours) > timedelta(0):
        # Earliest instant: a second earlier is not enough, and the due moment is in working time
        # (or at the end of a working interval).
        assert working_time_between(start, due - timedelta(seconds=1), calendar) < timedelta(hours=hours)
        assert calendar.is_working_time(due - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(
    start=STARTS,
    h1=st.floats(min_value=0, max_value=500, allow_nan=False),
    h2=st.floats(min_value=0, max_value=500, allow_nan=False),
    calendar=st.sampled_from(CALENDARS),
)
def test_due_at_is_monotonic(start, h1, h2, calendar):
    lo, hi = sorted((h1, h2))
    assert due_at(start, lo, calendar) <= due_at(start, hi, calendar)


@settings(max_examples=200, deadline=None)
@given(
    created=STARTS,
    hours=st.floats(min_value=0, max_value=500, allow_nan=False),
    fraction=st.floats(min_value=0, max_value=1),
    min_lead_minutes=st.integers(min_value=0, max_value=600),
    calendar=st.sampled_from(CALENDARS),
)
def test_reminder_bounds(created, hours, fraction, min_lead_minutes, calendar):
    due = due_at(created, hours, calendar)
    min_lead = timedelta(minutes=min_lead_minutes)
    remind = reminder_at(created, due, fraction, min_lead, calendar=calendar)
    assert remind.tzinfo is UTC
    assert created.astimezone(UTC) <= remind <= due
    window = working_time_between(created, due, calendar)
    lead = working_time_between(remind, due, calendar)
    if remind > created:
        assert lead >= min_lead
        assert abs(lead - max(window * fraction, min_lead)) <= timedelta(microseconds=1)
    else:
        assert max(window * fraction, min_lead) >= window - timedelta(microseconds=1)
