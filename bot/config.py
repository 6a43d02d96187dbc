"""One validated settings object, read from config.toml and the environment.

Every setting of a table section can be overridden as GRIDBOT_<SECTION>_<KEY>
(e.g. GRIDBOT_WEB_PORT); WECHATY_PUPPET_SERVICE_TOKEN / _ENDPOINT also work.
Anything invalid raises ConfigError with messages that name the key.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.broadcasts.settings import DEFAULT_BROADCASTS, BroadcastGlobals, BroadcastSettings
from bot.nlp.labels import CATEGORIES
from bot.sla import WorkingHours
from bot.webhooks.settings import WebhookSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX = "GRIDBOT_"


class ConfigError(Exception):
    """Invalid configuration; `problems` are lines like 'web.port: expected an integer'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommunitySettings(_Section):
    name: str = Field(default="示例社区", min_length=1)
    bot_name: str = Field(default="社区小助手", min_length=1)  # the bot's name in the groups
    timezone: str = "Asia/Shanghai"
    # Extra words for the tokenizer: place names such as 白杨河, 人工湖.
    places: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. Asia/Shanghai)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StorageSettings(_Section):
    url: str = "sqlite+aiosqlite:///data/gridbot.db"
    data_dir: str = "data"  # photos residents send are kept under <data_dir>/attachments

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value


class TransportSettings(_Section):
    kind: Literal["sandbox", "wechaty"] = "sandbox"
    # Name of this bot's account when several instances share one database (PostgreSQL).
    account: str = Field(default="default", min_length=1, max_length=100)
    endpoint: str = ""
    token: str = ""
    heartbeat_seconds: float = Field(default=15, gt=0)  # ding/dong liveness probe interval
    max_attachment_mb: float = Field(default=10, gt=0)  # larger photos are not stored

    @model_validator(mode="after")
    def _wechaty_needs_gateway(self) -> "TransportSettings":
        problems = []
        if self.kind == "wechaty" and not self.endpoint:
            problems.append('endpoint: required when kind = "wechaty" (host:port of the wechaty gateway)')
        if self.kind == "wechaty" and not self.token:
            problems.append('token: required when kind = "wechaty" (the puppet service token)')
        if problems:
            raise ValueError("; ".join(problems))
        return self


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class SandboxSettings(_Section):
    enabled: bool = True
    history: int = Field(default=200, ge=0, le=5000)


class GreetingSettings(_Section):
    """A short note to residents who join a resident group; text empty = the built-in one."""

    enabled: bool = True
    text: str = ""


class SlaSettings(_Section):
    """Hours until a resident hears back, per urgency (12345 norms), and until someone takes the ticket."""

    emergency: float = Field(default=2, gt=0)
    urgent: float = Field(default=24, gt=0)
    normal: float = Field(default=168, gt=0)
    take_emergency: float = Field(default=0.5, gt=0)
    take_urgent: float = Field(default=4, gt=0)
    take_normal: float = Field(default=24, gt=0)
    reminder_lead_fraction: float = Field(default=0.25, ge=0, le=1)  # remind with this share of the time left
    reminder_min_lead_minutes: float = Field(default=30, ge=0)
    feedback_days: float = Field(default=3, gt=0)  # no 满意/不满意 by then = no feedback
    check_seconds: float = Field(default=60, gt=0)  # how often the clocks are checked
    # Optional office hours: "" = the clock runs day and night; e.g. "08:30-17:30".
    working_hours: str = ""
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    holidays: tuple[date | str, ...] = ()  # TOML dates or "2026-10-01..2026-10-07"
    workdays: tuple[date | str, ...] = ()  # 调休: weekend days that are working days
    # Which urgencies follow office hours; an emergency at 23:00 must not wait for the morning.
    calendar_urgencies: tuple[Literal["emergency", "urgent", "normal"], ...] = ("urgent", "normal")

    @model_validator(mode="after")
    def _calendar_parses(self) -> "SlaSettings":
        if self.working_hours:
            self.calendar(ZoneInfo("UTC"))  # raises ValueError that names the problem
        return self

    def hours_for(self, urgency: str) -> float:
        return float(getattr(self, urgency, self.normal))

    def take_hours_for(self, urgency: str) -> float:
        return float(getattr(self, f"take_{urgency}", self.take_normal))

    def calendar(self, tz: ZoneInfo) -> WorkingHours | None:
        if not self.working_hours:
            return None
        return WorkingHours.parse(self.working_hours, self.working_days, self.holidays, self.workdays, tz)

    def calendar_for(self, urgency: str, tz: ZoneInfo) -> WorkingHours | None:
        return self.calendar(tz) if urgency in self.calendar_urgencies else None


class DuplicateSettings(_Section):
    """A report like an open one (same group, category and place/object) joins it as 附议."""

    window_hours: float = Field(default=24, gt=0)


class HotlineSettings(_Section):
    """Numbers given to residents in an emergency."""

    fire: str = "119"
    medical: str = "120"
    police: str = "110"
    gas: str = ""  # the local gas company's repair line, e.g. 96777; empty = 「燃气公司抢修电话」


class RetentionSettings(_Section):
    """Keep personal data only as long as needed (gridbot purge; the inbox is trimmed hourly)."""

    inbox_hours: float = Field(default=24, gt=0)  # messages that are not tickets: the de-duplication window
    outbox_days: float = Field(default=30, gt=0)  # what the bot sent
    ticket_days: float = Field(default=730, gt=0)  # closed tickets are anonymised after this


class ResidentSettings(_Section):
    reply_privately: bool = False  # answer residents in a private chat instead of their group


class TeamSettings(_Section):
    """Staff who take certain categories instead of the grid worker, and robots that hear of them."""

    name: str = Field(min_length=1)
    members: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()


class OutboxSettings(_Section):
    # WeChat tolerates about one message per 3 s per group and 20-40 a minute per account.
    per_group_interval_seconds: float = Field(default=3.0, ge=0)
    per_account_per_minute: int = Field(default=20, ge=1)
    max_attempts: int = Field(default=20, ge=1)
    poll_seconds: float = Field(default=1.0, gt=0)


class GridSettings(_Section):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class GroupSettings(_Section):
    topic: str = Field(min_length=1)
    role: Literal["residents", "staff"]
    grid: str | None = None
    room_id: str | None = None


class StaffSettings(_Section):
    name: str = Field(min_length=1)
    wechat_id: str | None = None
    role: Literal["grid_worker", "supervisor"]
    grids: tuple[str, ...] = ()


class Settings(_Section):
    community: CommunitySettings = CommunitySettings()
    storage: StorageSettings = StorageSettings()
    transport: TransportSettings = TransportSettings()
    web: WebSettings = WebSettings()
    sandbox: SandboxSettings = SandboxSettings()
    greeting: GreetingSettings = GreetingSettings()
    sla: SlaSettings = SlaSettings()
    outbox: OutboxSettings = OutboxSettings()
    duplicates: DuplicateSettings = DuplicateSettings()
    hotlines: HotlineSettings = HotlineSettings()
    residents: ResidentSettings = ResidentSettings()
    retention: RetentionSettings = RetentionSettings()
    grids: tuple[GridSettings, ...] = ()
    groups: tuple[GroupSettings, ...] = ()
    staff: tuple[StaffSettings, ...] = ()
    teams: tuple[TeamSettings, ...] = ()
    webhooks: tuple[WebhookSettings, ...] = ()
    broadcast: BroadcastGlobals = BroadcastGlobals()
    broadcasts: tuple[BroadcastSettings, ...] = DEFAULT_BROADCASTS

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        grid_ids = [g.id for g in self.grids]
        topics = [g.topic for g in self.groups]
        names = [s.name for s in self.staff]
        hook_names = [w.name for w in self.webhooks]
        problems = [
            *_duplicates("grids", "id", grid_ids, "grid id"),
            *_duplicates("groups", "topic", topics, "group"),
            *_duplicates("staff", "name", names, "staff member"),
            *_duplicates("broadcasts", "name", [b.name for b in self.broadcasts], "schedule"),
            *_duplicates("webhooks", "name", hook_names, "webhook"),
            *_duplicates("teams", "name", [t.name for t in self.teams], "team"),
        ]
        for i, group in enumerate(self.groups):
            if group.role == "residents" and not group.grid:
                problems.append(f"groups[{i}].grid: required for a residents group")
            if group.grid and group.grid not in grid_ids:
                problems.append(f"groups[{i}].grid: unknown grid {group.grid!r} (known: {', '.join(grid_ids) or 'none'})")
        if self.groups and not any(g.role == "staff" for g in self.groups):
            problems.append('groups: at least one group needs role = "staff" (where alerts go)')
        for i, member in enumerate(self.staff):
            for grid_id in member.grids:
                if grid_id not in grid_ids:
                    problems.append(f"staff[{i}].grids: unknown grid {grid_id!r}")
        for i, schedule in enumerate(self.broadcasts):
            for topic in schedule.groups:
                if topic not in topics:
                    problems.append(f"broadcasts[{i}].groups: no [[groups]] with topic {topic!r}")
        for i, team in enumerate(self.teams):
            for name in team.members:
                if name not in names:
                    problems.append(f"teams[{i}].members: {name!r} is not in [[staff]]")
            for category in team.categories:
                if category not in CATEGORIES or category == "none":
                    problems.append(f"teams[{i}].categories: unknown category {category!r}")
            for hook in team.webhooks:
                if hook not in hook_names:
                    problems.append(f"teams[{i}].webhooks: no [[webhooks]] named {hook!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- lookups used across the bot ------------------------------------------------
    def group_by_topic(self, topic: str | None) -> GroupSettings | None:
        return next((g for g in self.groups if g.topic == topic), None)

    def staff_group(self) -> GroupSettings | None:
        return next((g for g in self.groups if g.role == "staff"), None)

    def grid_name(self, grid_id: str | None) -> str:
        return next((g.name for g in self.grids if g.id == grid_id), "")

    def team_for(self, category: str) -> TeamSettings | None:
        return next((t for t in self.teams if category in t.categories), None)

    def webhook(self, name: str) -> WebhookSettings | None:
        return next((w for w in self.webhooks if w.name == name), None)

    def community_words(self) -> list[str]:
        """Words the tokenizer must keep whole: places, group names, staff names."""
        words = list(self.community.places) + [self.community.name]
        words += [g.topic for g in self.groups] + [g.name for g in self.grids]
        words += [s.name for s in self.staff]
        return [w for w in dict.fromkeys(words) if w]


def _duplicates(section: str, key: str, values: list[str], what: str) -> list[str]:
    """'grids[2].id: duplicate grid id 'g1'' for every repeat of an earlier entry."""
    return [f"{section}[{i}].{key}: duplicate {what} {value!r}"
            for i, value in enumerate(values) if values.index(value) != i]


# -- loading --------------------------------------------------------------------------

_ENV_ALIASES = {
    "WECHATY_PUPPET_SERVICE_TOKEN": ("transport", "token"),
    "WECHATY_PUPPET_SERVICE_ENDPOINT": ("transport", "endpoint"),
}


def _table_sections() -> dict[str, type[BaseModel]]:
    out = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = annotation
    return out


def apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (data with overrides, key -> environment variable that set it)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    origin: dict[str, str] = {}
    for var, (section, key) in _ENV_ALIASES.items():
        if environ.get(var):
            merged.setdefault(section, {})[key] = environ[var]
            origin[f"{section}.{key}"] = var
    for section, model in _table_sections().items():
        for key in model.model_fields:
            var = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if var in environ:
                value: Any = environ[var]
                if key == "places":
                    value = [p.strip() for p in value.split(",") if p.strip()]
                merged.setdefault(section, {})
                if not isinstance(merged[section], dict):
                    continue  # the file's own type error is reported by validation
                merged[section][key] = value
                origin[f"{section}.{key}"] = var
    return merged, origin


_FRIENDLY = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "missing": "required",
    "extra_forbidden": "unknown key",
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
}


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe_errors(error: ValidationError, origin: Mapping[str, str] | None = None) -> list[str]:
    lines = []
    for item in error.errors():
        where = _location(tuple(item["loc"]))
        kind = item["type"]
        if kind in _FRIENDLY:
            what = _FRIENDLY[kind]
        elif kind == "literal_error":
            what = "must be one of " + item["ctx"]["expected"]
        elif kind == "value_error":
            what = str(item["ctx"]["error"])
            # A model-level check names its own keys ("endpoint: ..."); join them to the section.
            if where and ":" in what.split(" ")[0]:
                lines.extend(f"{where}.{part}" for part in what.split("; "))
                continue
            if not where:
                lines.extend(what.split("; "))
                continue
        else:
            what = item["msg"]
        if "input" in item and kind not in ("missing", "extra_forbidden", "value_error") and not isinstance(item["input"], (dict, list)):
            what += f" (got {item['input']!r})"
        if origin and where in origin:
            what += f" (from {origin[where]})"
        lines.append(f"{where}: {what}" if where else what)
    return lines


def load_settings(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, merge with the environment and validate; raise ConfigError on any problem."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{file}: file not found"]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{file}: not valid TOML: {exc}"]) from None
    merged, origin = apply_env(data, environ)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, origin)) from None
