"""/api/v1: tickets and stats as JSON, with the console's access rules (session or per-staff token)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.services import stats
from bot.web.common import deps, viewer
from bot.web.console import EVENT_ZH, _event_detail
from bot.web.listing import Filters, base_query, find, reporters_of, row_of
from storage.models import Person, Ticket, TicketEvent

TEMPLATE_ONLY = ("created_local", "due_local")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/me", me)
    app.router.add_get("/api/v1/tickets", tickets)
    app.router.add_get(r"/api/v1/tickets/{number:\d{1,9}}", ticket)
    app.router.add_get("/api/v1/stats", stats_view)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TEMPLATE_ONLY}


def _json(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


async def me(request: web.Request) -> web.Response:
    v = viewer(request)
    return _json({"id": v.id, "name": v.name, "role": v.role, "grids": sorted(v.grids), "teams": sorted(v.teams)})


async def tickets(request: web.Request) -> web.Response:
    console = deps(request)
    filters = Filters.parse(request.query, console.settings)
    async with console.sessions() as session:
        page = await find(session, console.settings, viewer(request), filters, console.clock())
    return _json({"tickets": [_public(r) for r in page.rows], "total": page.total, "page": page.page,
                  "per_page": page.per_page, "pages": page.pages, "ignored_filters": filters.ignored})


async def ticket(request: web.Request) -> web.Response:
    console = deps(request)
    settings = console.settings
    tz = settings.community.tz
    number = int(request.match_info["number"])
    v = viewer(request)
    async with console.sessions() as session:
        found = (await session.execute(base_query([v.ticket_scope(), Ticket.id == number]))).first()
        if found is None:
            return _json({"error": f"没有工单 #{number}，或您无权查看"}, status=404)
        t, topic, assignee = found
        reporters = await reporters_of(session, [t.id])
        events = (await session.execute(
            select(TicketEvent, Person.name).outerjoin(Person, Person.id == TicketEvent.actor_id)
            .where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))).all()
        names = dict((await session.execute(select(Person.id, Person.name).where(Person.role != "resident"))).all())
    data = _public(row_of(t, topic, assignee, reporters.get(t.id, []), settings, console.clock()))
    data["events"] = [{"at": e.created_at.astimezone(tz).isoformat(), "kind": e.kind,
                       "kind_zh": EVENT_ZH.get(e.kind, e.kind), "by": who or settings.community.bot_name,
                       "detail": _event_detail(e, names)} for e, who in events]
    return _json(data)


async def stats_view(request: web.Request) -> web.Response:
    console = deps(request)
    period = request.query.get("period", "week")
    if period not in ("week", "month"):
        return _json({"error": "period 只能是 week 或 month"}, status=400)
    previous = request.query.get("previous") in ("1", "true", "yes")
    now = console.clock()
    tz = console.settings.community.tz
    start, end = stats.period_bounds(period, now, tz, previous=previous)
    async with console.sessions() as session:
        report = await stats.build_report(session, start, end, now, scope=viewer(request).ticket_scope())
    return _json({
        "period": period, "previous": previous,
        "start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat(),
        "response_rate": report.response_rate, "resolution_rate": report.resolution_rate,
        "satisfaction_rate": report.satisfaction_rate,
        "counts": {"created": report.created, "taken_in_time": report.taken_in_time,
                   "due_for_taking": report.due_for_taking, "resolved_in_time": report.resolved,
                   "came_due": report.due, "satisfied": report.satisfied, "rated": report.rated,
                   "open_now": report.open_now, "overdue_now": report.overdue_now},
        "by_category": dict(report.by_category), "by_grid": dict(report.by_grid),
    })
