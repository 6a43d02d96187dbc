"""[[broadcasts]] schedules and the [broadcast] table (quiet hours, grace window, digest)."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

from croniter import croniter
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RANGE = re.compile(r"^(\d{2})-(\d{2})\.\.(\d{2})-(\d{2})$")


def parse_hhmm(value: str) -> time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"expected a time like 08:00, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _check_time(value: str) -> str:
    parse_hhmm(value)
    return value


def _check_cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"not a valid cron line: {value!r} (e.g. \"0 10 * * 3\")")
    return value


ClockTime = Annotated[str, AfterValidator(_check_time)]  # "08:00"
CronLine = Annotated[str, AfterValidator(_check_cron)]  # read in the community's time zone


class BroadcastSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    content: str  # a file in bot/content/ (e.g. anti_fraud.toml) or a path
    cron: CronLine  # e.g. "0 10 * * 3" = Wednesdays 10:00
    months: tuple[int, ...] = ()  # active months (1-12); empty = all year
    date_ranges: tuple[str, ...] = ()  # extra active ranges "MM-DD..MM-DD"
    extra_days: tuple[date, ...] = ()  # one-off extra slots, e.g. the days before 五一 / 端午
    extra_time: ClockTime = "10:00"
    groups: tuple[str, ...] = ()  # group topics; empty = every resident group
    jitter_minutes: float = Field(default=0, ge=0, le=120)
    enabled: bool = True

    @field_validator("months")
    @classmethod
    def _valid_months(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [m for m in value if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1-12, got {bad}")
        return value

    @field_validator("date_ranges")
    @classmethod
    def _valid_ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            match = _RANGE.match(item)
            if not match:
                raise ValueError(f"expected \"MM-DD..MM-DD\", got {item!r}")
            for month, day in ((match.group(1), match.group(2)), (match.group(3), match.group(4))):
                date(2024, int(month), int(day))  # raises for 02-30
        return value

    @field_validator("content")
    @classmethod
    def _content_exists(cls, value: str) -> str:
        if not content_path(value).is_file():
            raise ValueError(f"content file not found: {value!r} (put it in bot/content/ or give a path)")
        return value


def content_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() or path.exists() else CONTENT_DIR / value


class BroadcastGlobals(BaseModel):
    """[broadcast]: rules for every schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quiet_start: ClockTime = "22:00"  # no broadcast between these; a slot inside waits for quiet_end
    quiet_end: ClockTime = "08:00"
    grace_hours: float = Field(default=6, ge=0)  # a slot missed while down is still sent within this
    check_seconds: float = Field(default=30, gt=0)
    digest_cron: CronLine = "0 9 * * 1"  # weekly digest to the staff group (Monday 09:00)
    digest_enabled: bool = True
    rivers: tuple[str, ...] = ()  # rivers and lakes near the community, named in anti-drowning tips


# Built in and on by default (a config may list its own [[broadcasts]] instead).
# Holiday eves: the days before 五一 (May 1), 端午 (lunar; 2026-06-19, 2027-06-09) and the summer
# holiday (about July 10 here) — update extra_days each year.
DEFAULT_BROADCASTS = (
    BroadcastSettings(name="anti_fraud", content="anti_fraud.toml", cron="0 10 * * 3", jitter_minutes=10),
    BroadcastSettings(
        name="anti_drowning", content="anti_drowning.toml", cron="0 17 * * 2,6", months=(4, 5, 6, 7, 8),
        extra_days=(date(2026, 4, 30), date(2026, 6, 18), date(2026, 7, 9),
                    date(2027, 4, 30), date(2027, 6, 8), date(2027, 7, 9)),
        extra_time="10:00", jitter_minutes=10,
    ),
)
