"""Finding tickets for the console, the API and the CSV export: filters, search, paging, one row shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import texts
from bot.config import Settings
from bot.nlp.labels import CATEGORY_ZH, INTENT_ZH, URGENCY_ZH
from bot.web.common import Viewer
from storage.models import Group, Person, Ticket, TicketReporter

OPEN = ("open", "in_progress")
PER_PAGE = 20
MAX_PER_PAGE = 200
STATUS_CHOICES = {"active": "未办结（待接单 + 处理中）", **texts.STATUS_ZH}
CATEGORY_CHOICES = {k: v for k, v in CATEGORY_ZH.items() if k != "none"}
MAX_QUERY = 100


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass
class Filters:
    status: str = ""
    category: str = ""
    grid: str = ""
    urgency: str = ""
    overdue: bool = False
    q: str = ""
    start: date | None = None  # created on or after (local date)
    end: date | None = None  # created on or before (local date)
    page: int = 1
    per_page: int = PER_PAGE
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, query: Mapping[str, Any], settings: Settings) -> "Filters":
        """Unknown values are dropped (and noted), never passed on to the database."""
        f = cls()
        grids = {g.id for g in settings.grids}
        for name, allowed in (("status", STATUS_CHOICES), ("category", CATEGORY_CHOICES), ("grid", grids),
                              ("urgency", URGENCY_ZH)):
            value = str(query.get(name) or "").strip()
            if value and value in allowed:
                setattr(f, name, value)
            elif value:
                f.ignored.append(name)
        f.overdue = str(query.get("overdue") or "") in ("1", "on", "true", "yes")
        f.q = " ".join(str(query.get("q") or "").split())[:MAX_QUERY]
        f.start = parse_date(query.get("start"))
        f.end = parse_date(query.get("end"))
        f.page = _int(query.get("page"), 1, 1, 100_000)
        f.per_page = _int(query.get("per_page"), PER_PAGE, 1, MAX_PER_PAGE)
        return f

    def query_string(self, **changes: Any) -> str:
        """For paging links: the same filters with some changed."""
        from urllib.parse import urlencode

        values = {"status": self.status, "category": self.category, "grid": self.grid, "urgency": self.urgency,
                  "overdue": "1" if self.overdue else "", "q": self.q,
                  "start": self.start.isoformat() if self.start else "",
                  "end": self.end.isoformat() if self.end else "", "page": self.page}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)})


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conditions(viewer: Viewer, f: Filters, now: datetime, tz: ZoneInfo) -> list:
    """Every value is a bound parameter: nothing a user types becomes SQL."""
    where = [viewer.ticket_scope()]
    if f.status == "active":
        where.append(Ticket.status.in_(OPEN))
    elif f.status:
        where.append(Ticket.status == f.status)
    if f.category:
        where.append(Ticket.category == f.category)
    if f.grid:
        where.append(Ticket.grid_id == f.grid)
    if f.urgency:
        where.append(Ticket.urgency == f.urgency)
    if f.overdue:
        where.append(and_(Ticket.status.in_(OPEN), Ticket.due_at <= now))
    if f.start:
        where.append(Ticket.created_at >= datetime.combine(f.start, time(0), tz))
    if f.end:
        where.append(Ticket.created_at < datetime.combine(f.end + timedelta(days=1), time(0), tz))
    if f.q:
        number = f.q.lstrip("#＃")
        pattern = f"%{_like_escape(f.q)}%"
        reporter_named = exists().where(TicketReporter.ticket_id == Ticket.id,
                                        TicketReporter.display_name.ilike(pattern, escape="\\"))
        matches = [Ticket.text.ilike(pattern, escape="\\"), Ticket.resolution.ilike(pattern, escape="\\"),
                   reporter_named]
        if number.isdigit() and len(number) < 10:
            matches.append(Ticket.id == int(number))
        where.append(or_(*matches))
    return where


Assignee = aliased(Person)


def base_query(where: list):
    return (select(Ticket, Group.topic, Assignee.name)
            .join(Group, Group.id == Ticket.group_id)
            .outerjoin(Assignee, Assignee.id == Ticket.assignee_id)
            .where(*where))


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def find(session: AsyncSession, settings: Settings, viewer: Viewer, f: Filters, now: datetime,
               *, paged: bool = True) -> Page:
    tz = settings.community.tz
    where = conditions(viewer, f, now, tz)
    total = int(await session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0)
    query = base_query(where).order_by(Ticket.id.desc())
    if paged:
        query = query.offset((f.page - 1) * f.per_page).limit(f.per_page)
    found = (await session.execute(query)).all()
    reporters = await reporters_of(session, [t.id for t, _, _ in found])
    rows = [row_of(t, topic, assignee, reporters.get(t.id, []), settings, now) for t, topic, assignee in found]
    return Page(rows=rows, total=total, page=f.page, per_page=f.per_page if paged else max(1, total))


async def reporters_of(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    rows = await session.execute(
        select(TicketReporter.ticket_id, TicketReporter.display_name)
        .where(TicketReporter.ticket_id.in_(ids)).order_by(TicketReporter.created_at))
    for ticket_id, name in rows:
        out.setdefault(ticket_id, []).append(name)
    return out


def row_of(t: Ticket, group_topic: str, assignee: str | None, reporters: list[str], settings: Settings,
           now: datetime) -> dict:
    """One ticket as staff see it in lists, JSON and CSV (codes plus their Chinese names)."""
    tz = settings.community.tz
    overdue = t.status in OPEN and t.due_at <= now
    return {
        "id": t.id,
        "status": t.status,
        "status_zh": texts.STATUS_ZH.get(t.status, t.status),
        "intent": t.intent,
        "intent_zh": INTENT_ZH.get(t.intent, t.intent),
        "category": t.category,
        "category_zh": CATEGORY_ZH.get(t.category, t.category),
        "urgency": t.urgency,
        "urgency_zh": URGENCY_ZH.get(t.urgency, t.urgency),
        "text": t.text,
        "keywords": list(t.keywords or []),
        "group": group_topic,
        "grid": t.grid_id,
        "grid_name": settings.grid_name(t.grid_id),
        "team": t.team,
        "reporters": reporters,
        "assignee": assignee,
        "created_at": t.created_at.astimezone(tz).isoformat(),
        "due_at": t.due_at.astimezone(tz).isoformat(),
        "first_response_at": t.first_response_at.astimezone(tz).isoformat() if t.first_response_at else None,
        "resolved_at": t.resolved_at.astimezone(tz).isoformat() if t.resolved_at else None,
        "closed_at": t.closed_at.astimezone(tz).isoformat() if t.closed_at else None,
        "resolution": t.resolution or "",
        "satisfaction": t.satisfaction,
        "satisfaction_zh": texts.SATISFACTION_ZH.get(t.satisfaction, "") if t.satisfaction else "",
        "overdue": overdue,
        # For templates: short local times.
        "created_local": texts.local_time(t.created_at, tz),
        "due_local": texts.local_time(t.due_at, tz),
    }
