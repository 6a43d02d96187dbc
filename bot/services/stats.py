"""The three rates the county assesses — 响应率, 解决率, 满意率 — and the counts behind them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.nlp.labels import CATEGORY_ZH
from storage.models import Ticket

Period = Literal["week", "month"]


def period_bounds(period: Period, now: datetime, tz: ZoneInfo, previous: bool = False) -> tuple[datetime, datetime]:
    """This week (from Monday 00:00) or month (from the 1st) so far; or the whole previous one."""
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start = midnight - timedelta(days=local.weekday())
        if previous:
            return start - timedelta(days=7), start
    else:
        start = midnight.replace(day=1)
        if previous:
            return (start - timedelta(days=1)).replace(day=1), start
    return start, now


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class Report:
    start: datetime
    end: datetime
    created: int = 0
    taken_in_time: int = 0
    due_for_taking: int = 0
    resolved: int = 0
    due: int = 0
    satisfied: int = 0
    rated: int = 0
    open_now: int = 0
    overdue_now: int = 0
    by_category: Counter = field(default_factory=Counter)
    by_grid: Counter = field(default_factory=Counter)

    @property
    def response_rate(self) -> float | None:
        return _rate(self.taken_in_time, self.due_for_taking)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.due)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.rated)


async def build_report(session: AsyncSession, start: datetime, end: datetime, now: datetime,
                       *, scope=None) -> Report:
    """`scope`: an optional SQL condition on Ticket (the console limits a grid worker to their tickets)."""
    report = Report(start=start, end=end)
    query = select(Ticket).where(Ticket.status != "cancelled")
    if scope is not None:
        query = query.where(scope)
    rows = (await session.scalars(query)).all()
    for t in rows:
        if start <= t.created_at < end:
            report.created += 1
            report.by_category[t.category] += 1
            report.by_grid[t.grid_id or ""] += 1
            # 响应率: taken (接单 or answered) within the take deadline, among tickets whose deadline came.
            deadline = t.take_due_at or t.due_at
            if t.first_response_at is not None or deadline <= now:
                report.due_for_taking += 1
                if t.first_response_at is not None and t.first_response_at <= deadline:
                    report.taken_in_time += 1
        # 解决率: of the tickets that came due in the period, how many were resolved by their due time.
        if start <= t.due_at < end and t.due_at <= now:
            report.due += 1
            if t.resolved_at is not None and t.resolved_at <= t.due_at:
                report.resolved += 1
        # 满意率: 满意 among the residents who answered (no answer is not counted either way).
        if t.feedback_at is not None and start <= t.feedback_at < end and t.satisfaction in ("satisfied", "dissatisfied"):
            report.rated += 1
            report.satisfied += t.satisfaction == "satisfied"
        if t.status in ("open", "in_progress"):
            report.open_now += 1
            report.overdue_now += t.due_at <= now
    return report


def percent(value: float | None) -> str:
    return "—（无数据）" if value is None else f"{value * 100:.1f}%"


def render(report: Report, settings: Settings, title: str) -> str:
    tz = settings.community.tz
    start, end = report.start.astimezone(tz), report.end.astimezone(tz)
    lines = [
        f"{settings.community.name} {title}（{start:%Y-%m-%d} 至 {end:%Y-%m-%d %H:%M}）",
        f"响应率：{percent(report.response_rate)}（按时接单 {report.taken_in_time}/{report.due_for_taking}）",
        f"解决率：{percent(report.resolution_rate)}（按期办结 {report.resolved}/{report.due}）",
        f"满意率：{percent(report.satisfaction_rate)}（满意 {report.satisfied}/{report.rated}）",
        f"新增工单：{report.created}　当前未办结：{report.open_now}　其中超时：{report.overdue_now}",
    ]
    if report.by_category:
        lines.append("按类别：" + "，".join(f"{CATEGORY_ZH.get(c, c)} {n}" for c, n in report.by_category.most_common()))
    if report.by_grid:
        lines.append("按网格：" + "，".join(f"{settings.grid_name(g) or '未分网格'} {n}"
                                          for g, n in report.by_grid.most_common()))
    return "\n".join(lines)
