"""When broadcasts fire: cron slots, seasons, holiday eves, jitter and quiet hours (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.broadcasts.settings import DEFAULT_BROADCASTS, BroadcastGlobals, BroadcastSettings
from bot.broadcasts.slots import in_quiet_hours, jitter, send_time, slots_between

TZ = ZoneInfo("Asia/Shanghai")
FRAUD, DROWNING = DEFAULT_BROADCASTS
RULES = BroadcastGlobals()


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_anti_fraud_is_weekly_all_year():
    found = slots_between(FRAUD, local(2026, 1, 1), local(2026, 12, 31, 23, 59), TZ)
    assert len(found) == 52  # every Wednesday of 2026
    assert all(s.astimezone(TZ).weekday() == 2 and s.astimezone(TZ).hour == 10 for s in found)


def test_anti_drowning_only_in_season_plus_holiday_eves():
    november = slots_between(DROWNING, local(2026, 11, 1), local(2026, 11, 30), TZ)
    assert november == []
    june = [s.astimezone(TZ) for s in slots_between(DROWNING, local(2026, 6, 1), local(2026, 6, 30, 23), TZ)]
    assert {d.weekday() for d in june if d.hour == 17} == {1, 5}  # Tuesdays and Saturdays
    assert local(2026, 6, 18, 10, 0) in june  # the day before 端午 (a Thursday): an extra slot
    assert len([d for d in june if d.hour == 17]) == 9  # 5 Tuesdays + 4 Saturdays


def test_date_ranges_extend_the_season():
    schedule = BroadcastSettings(name="x", content="anti_drowning.toml", cron="0 17 * * *",
                                 months=(7,), date_ranges=("09-01..09-03",))
    found = [s.astimezone(TZ).date() for s in slots_between(schedule, local(2026, 8, 30), local(2026, 9, 10), TZ)]
    assert found == [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]


def test_jitter_is_bounded_and_the_same_everywhere():
    slot = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
    spread = jitter(FRAUD, slot)
    assert timedelta(0) <= spread < timedelta(minutes=10)
    assert jitter(FRAUD, slot) == spread  # every instance agrees


def test_quiet_hours_wait_for_the_morning():
    late = BroadcastSettings(name="late", content="anti_fraud.toml", cron="30 22 * * *")
    slot = local(2026, 12, 1, 22, 30).astimezone(timezone.utc)
    assert in_quiet_hours(slot, RULES, TZ)
    assert send_time(late, slot, RULES, TZ) == local(2026, 12, 2, 8, 0)
    early = local(2026, 12, 1, 6, 15).astimezone(timezone.utc)
    assert send_time(late, early, RULES, TZ) == local(2026, 12, 1, 8, 0)
    noon = local(2026, 12, 1, 12, 0).astimezone(timezone.utc)
    assert send_time(late, noon, RULES, TZ) == noon
