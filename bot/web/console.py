"""The staff console pages: tickets, one ticket and its actions, dashboard, broadcasts, CSV export.

Actions call the same service functions as the chat commands (bot.services.tickets) with a
Notifier, so residents hear back exactly as when staff answer in WeChat.
"""

from __future__ import annotations

import csv
import importlib
import io
import logging
import mimetypes
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from bot import texts
from bot.nlp.labels import CATEGORY_ZH, INTENT_ZH, URGENCY_ZH
from bot.services import stats
from bot.services import tickets as service
from bot.services.notify import Notifier
from bot.web import charts
from bot.web.common import Viewer, deps, flash, local_dt, render, viewer
from bot.web.listing import CATEGORY_CHOICES, OPEN, STATUS_CHOICES, Filters, find, parse_date
from storage.models import (Attachment, BroadcastSend, BroadcastSlot, Group, Person, Ticket, TicketEvent,
                            TicketReporter)

log = logging.getLogger(__name__)

EVENT_ZH = service._EVENT_ZH  # the chat's own words for the timeline (查询 #N)
NOTE_LIMIT = 2000
ACTIONS = ("take", "reassign", "resolve", "reopen", "recategorise", "note")


def setup(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/tickets", ticket_list)
    app.router.add_get(r"/tickets/{number:\d{1,9}}", ticket_page)
    app.router.add_post(r"/tickets/{number:\d{1,9}}/{action:[a-z]+}", ticket_action)
    app.router.add_get(r"/tickets/{number:\d{1,9}}/photos/{photo:\d{1,9}}", ticket_photo)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/broadcasts", broadcasts)
    app.router.add_get("/export", export_page)
    app.router.add_get("/export.csv", export_csv)


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/tickets")


# -- tickets -----------------------------------------------------------------------------------

async def ticket_list(request: web.Request) -> web.Response:
    console = deps(request)
    settings = console.settings
    filters = Filters.parse(request.query, settings)
    async with console.sessions() as session:
        page = await find(session, settings, viewer(request), filters, console.clock())
    return await render(request, "console/tickets.html", {
        "page": page, "f": filters, "statuses": STATUS_CHOICES, "categories": CATEGORY_CHOICES,
        "urgencies": URGENCY_ZH, "grids": [(g.id, g.name) for g in settings.grids], "title": "工单",
    })


async def _visible_ticket(session, request: web.Request) -> Ticket:
    """The ticket of the URL if this staff member may see it; 404 either way otherwise (no probing)."""
    ticket = await session.get(Ticket, int(request.match_info["number"]))
    if ticket is None or not viewer(request).can_see(ticket):
        raise web.HTTPNotFound(text="没有这张工单，或您无权查看。", content_type="text/plain")
    return ticket


def _event_detail(event: TicketEvent, names: dict[int, str]) -> str:
    detail = event.detail or ""
    if event.kind == "created" and detail.count("/") == 2:
        intent, category, urgency = detail.split("/")
        return f"{INTENT_ZH.get(intent, intent)}｜{CATEGORY_ZH.get(category, category)}｜{URGENCY_ZH.get(urgency, urgency)}"
    if event.kind == "assigned" and detail.startswith("person:"):
        try:
            return names.get(int(detail.split(":", 1)[1]), "")
        except ValueError:
            return ""
    if event.kind == "recategorised" and " → " in detail:
        old, new = detail.split(" → ", 1)
        return f"{CATEGORY_ZH.get(old, old)} → {CATEGORY_ZH.get(new, new)}"
    if event.kind == "rated":
        return texts.SATISFACTION_ZH.get(detail, detail)
    if event.kind == "photo":
        return ""
    return detail


async def ticket_page(request: web.Request) -> web.Response:
    console = deps(request)
    settings = console.settings
    tz = settings.community.tz
    me = viewer(request)
    async with console.sessions() as session:
        ticket = await _visible_ticket(session, request)
        group = await session.get(Group, ticket.group_id)
        assignee = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        reporters = (await session.execute(
            select(TicketReporter, Group.topic).join(Group, Group.id == TicketReporter.group_id)
            .where(TicketReporter.ticket_id == ticket.id).order_by(TicketReporter.created_at))).all()
        photos = (await session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id))).all()
        events = (await session.execute(
            select(TicketEvent, Person.name).outerjoin(Person, Person.id == TicketEvent.actor_id)
            .where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))).all()
        staff = (await session.scalars(
            select(Person).where(Person.role != "resident", Person.name.in_([s.name for s in settings.staff]))
            .order_by(Person.id))).all()
    names = {p.id: p.name for p in staff}
    now = console.clock()
    timeline = [{
        "when": local_dt(e.created_at, tz), "who": who or settings.community.bot_name,
        "what": EVENT_ZH.get(e.kind, e.kind), "kind": e.kind, "detail": _event_detail(e, names),
    } for e, who in events]
    is_open = ticket.status in OPEN
    return await render(request, "console/ticket.html", {
        "title": f"工单 #{ticket.id}",
        "t": ticket, "group": group, "assignee": assignee,
        "status_zh": texts.STATUS_ZH.get(ticket.status, ticket.status),
        "category_zh": CATEGORY_ZH.get(ticket.category, ticket.category),
        "urgency_zh": URGENCY_ZH.get(ticket.urgency, ticket.urgency),
        "intent_zh": INTENT_ZH.get(ticket.intent, ticket.intent),
        "grid_name": settings.grid_name(ticket.grid_id),
        "satisfaction_zh": texts.SATISFACTION_ZH.get(ticket.satisfaction or "", ""),
        "created": local_dt(ticket.created_at, tz), "due": local_dt(ticket.due_at, tz),
        "take_due": local_dt(ticket.take_due_at, tz), "resolved": local_dt(ticket.resolved_at, tz),
        "overdue": is_open and ticket.due_at <= now,
        "reporters": [{"name": r.display_name, "group": topic, "when": local_dt(r.created_at, tz)}
                      for r, topic in reporters],
        "photos": [{"id": p.id, "when": local_dt(p.created_at, tz)} for p in photos],
        "timeline": timeline,
        "can": {
            "take": is_open and not (ticket.status == "in_progress" and ticket.assignee_id == me.id),
            "reassign": is_open, "resolve": is_open, "reopen": ticket.status in ("resolved", "closed"),
            "recategorise": ticket.status != "cancelled", "note": True,
        },
        "staff": [p.name for p in staff if p.id != ticket.assignee_id],
        "categories": CATEGORY_CHOICES,
    })


async def ticket_action(request: web.Request) -> web.Response:
    """POST /tickets/N/<action>: one service call in one transaction, then wake the outbox."""
    console = deps(request)
    action = request.match_info["action"]
    number = int(request.match_info["number"])
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    form = await request.post()
    text = " ".join(str(form.get("text") or "").split())[:NOTE_LIMIT] if action != "note" else \
        str(form.get("text") or "").strip()[:NOTE_LIMIT]
    back = f"/tickets/{number}"
    if action in ("resolve", "note", "reassign", "recategorise") and not text:
        need = {"resolve": "请填写办结说明（会发给居民）。", "note": "备注不能为空。",
                "reassign": "请选择转派给谁。", "recategorise": "请选择类别。"}[action]
        await flash(request, need, "error")
        raise web.HTTPFound(back)
    me: Viewer = viewer(request)
    try:
        async with console.sessions.begin() as session:
            ticket = await _visible_ticket(session, request)
            actor = await session.get(Person, me.id)
            notify = Notifier(session, console.settings, console.clock())
            if action == "take":
                answer = await service.take(session, notify, ticket, actor)
            elif action == "reassign":
                answer = await service.reassign(session, notify, ticket, actor, text)
            elif action == "resolve":
                answer = await service.resolve(session, notify, ticket, actor, text)
            elif action == "reopen":
                answer = await service.reopen(session, notify, ticket, actor, text or f"{actor.name}在网页上重开")
            elif action == "recategorise":
                answer = await service.recategorise(session, notify, ticket, actor, text)
            else:
                answer = await service.add_note(session, notify, ticket, actor, text)
            queued = bool(notify.queued)
    except service.ServiceError as exc:
        await flash(request, str(exc), "error")
        raise web.HTTPFound(back)
    if queued:
        console.wake()
    log.info("console: staff %d did %s on ticket %d", me.id, action, number)
    await flash(request, answer)
    raise web.HTTPFound(back)


async def ticket_photo(request: web.Request) -> web.StreamResponse:
    console = deps(request)
    async with console.sessions() as session:
        ticket = await _visible_ticket(session, request)
        photo = await session.get(Attachment, int(request.match_info["photo"]))
    if photo is None or photo.ticket_id != ticket.id:
        raise web.HTTPNotFound()
    root = Path(console.settings.storage.data_dir).resolve()
    path = Path(photo.path).resolve()
    if root not in path.parents or not path.is_file():  # only files the bot stored under the data folder
        raise web.HTTPNotFound(text="照片文件不在了。", content_type="text/plain")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not kind.startswith("image/"):
        kind = "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "private, max-age=3600"})


# -- dashboard ---------------------------------------------------------------------------------

WEEKS_SHOWN = 12


async def dashboard(request: web.Request) -> web.Response:
    console = deps(request)
    settings = console.settings
    tz = settings.community.tz
    me = viewer(request)
    now = console.clock()
    scope = me.ticket_scope()
    reports = {}
    async with console.sessions() as session:
        for period in ("week", "month"):
            start, end = stats.period_bounds(period, now, tz)
            reports[period] = await stats.build_report(session, start, end, now, scope=scope)
        week_start, _ = stats.period_bounds("week", now, tz)
        first_week = week_start - timedelta(weeks=WEEKS_SHOWN - 1)
        created = (await session.scalars(
            select(Ticket.created_at).where(scope, Ticket.status != "cancelled", Ticket.created_at >= first_week)
        )).all()
        open_total = int(await session.scalar(
            select(func.count()).select_from(Ticket).where(scope, Ticket.status.in_(OPEN))) or 0)
        overdue_total = int(await session.scalar(
            select(func.count()).select_from(Ticket).where(scope, Ticket.status.in_(OPEN), Ticket.due_at <= now))
            or 0)
    weeks = Counter()
    for when in created:
        local = when.astimezone(tz)
        monday = (local - timedelta(days=local.weekday())).date()
        weeks[monday] += 1
    week_items = []
    for i in range(WEEKS_SHOWN):
        monday = (first_week + timedelta(weeks=i)).date()
        week_items.append((f"{monday.month}/{monday.day}", weeks.get(monday, 0)))
    month = reports["month"]

    def rates(report: stats.Report) -> list[tuple[str, float | None, str]]:
        return [("响应率", report.response_rate, f"{report.taken_in_time}/{report.due_for_taking}"),
                ("解决率", report.resolution_rate, f"{report.resolved}/{report.due}"),
                ("满意率", report.satisfaction_rate, f"{report.satisfied}/{report.rated}")]

    cards = [{"period": label, "report": reports[key],
              "rates": [(name, stats.percent(value).replace("—（无数据）", "—"), detail)
                        for name, value, detail in rates(reports[key])]}
             for key, label in (("week", "本周"), ("month", "本月"))]
    return await render(request, "console/dashboard.html", {
        "title": "统计",
        "cards": cards,
        "open_total": open_total, "overdue_total": overdue_total,
        "rates_chart": charts.rates_chart([("本周", rates(reports["week"])), ("本月", rates(month))],
                                          title="本周与本月的响应率、解决率、满意率"),
        "category_chart": charts.bar_chart(
            [(CATEGORY_ZH.get(c, c), n) for c, n in month.by_category.most_common()],
            title="本月按类别的工单数"),
        "week_chart": charts.column_chart(week_items, title=f"最近 {WEEKS_SHOWN} 周每周新增工单（按周一所在日期）"),
        "scope_note": "全社区" if me.is_supervisor else "您负责的网格" + ("和小组" if me.teams else ""),
        "month_start": local_dt(month.start, tz, "%Y年%m月%d日"),
    })


# -- broadcasts --------------------------------------------------------------------------------

def _schedule_views(settings, now) -> list:
    """The broadcast scheduler's view of its schedules (bot.broadcasts), if it is there; nothing otherwise."""
    for module in ("bot.broadcasts.schedules", "bot.broadcasts.service"):
        try:
            list_schedules = importlib.import_module(module).list_schedules  # late: an optional part
        except Exception:  # noqa: BLE001 - not there yet or broken: the page still shows the history
            continue
        try:
            return list(list_schedules(settings, now))
        except Exception:  # noqa: BLE001
            log.exception("listing broadcast schedules failed")
            return []
    return []


def _preview(settings, view, now) -> str:
    """The next message of a schedule as residents will read it (best effort)."""
    text = getattr(view, "preview", None)
    if text:
        return str(text)
    try:
        from bot.broadcasts import content as content_files

        schedule = next(s for s in settings.broadcasts if s.name == view.name)
        content = content_files.load(schedule.content)
        return content_files.render(content, content.tips[0], settings, now)
    except Exception:  # noqa: BLE001 - preview is a convenience
        return ""


def _active_text(view) -> str:
    active = getattr(view, "active", None)
    if isinstance(active, str) and active:
        return active
    enabled = getattr(view, "enabled", active)
    return "启用" if enabled in (True, None) else "已停用"


async def broadcasts(request: web.Request) -> web.Response:
    console = deps(request)
    settings = console.settings
    tz = settings.community.tz
    now = console.clock()
    views = _schedule_views(settings, now)
    schedules = [{
        "name": getattr(v, "name", ""), "title": getattr(v, "title", ""), "cron": getattr(v, "cron", ""),
        "season": getattr(v, "season", ""),
        "next_run": (local_dt(v.next_run, tz) if isinstance(getattr(v, "next_run", None), datetime)
                     else str(getattr(v, "next_run", "") or "—")),
        "active": _active_text(v),
        "preview": _preview(settings, v, now),
        "groups": "、".join(getattr(v, "groups", ()) or ()),
    } for v in views]
    async with console.sessions() as session:
        slots = (await session.scalars(select(BroadcastSlot).order_by(BroadcastSlot.slot_at.desc()).limit(50))).all()
        sends = (await session.scalars(
            select(BroadcastSend).where(BroadcastSend.slot_id.in_([s.id for s in slots]))
            .order_by(BroadcastSend.id))).all() if slots else []
    by_slot: dict[int, list[BroadcastSend]] = {}
    for send in sends:
        by_slot.setdefault(send.slot_id, []).append(send)
    history = [{
        "schedule": s.schedule, "when": local_dt(s.slot_at, tz),
        "status": {"queued": "已发出", "skipped": "已跳过"}.get(s.status, s.status), "detail": s.detail,
        "sends": [{"group": x.group_topic, "tip": x.tip_id} for x in by_slot.get(s.id, [])],
    } for s in slots]
    return await render(request, "console/broadcasts.html",
                        {"title": "广播", "schedules": schedules, "history": history})


# -- CSV export --------------------------------------------------------------------------------

CSV_COLUMNS = [
    ("id", "工单号"), ("created_at", "登记时间"), ("status_zh", "状态"), ("intent_zh", "诉求类型"),
    ("category_zh", "类别"), ("urgency_zh", "紧急程度"), ("grid_name", "网格"), ("group", "群聊"),
    ("reporters", "反映人"), ("text", "原话"), ("keywords", "命中关键词"), ("assignee", "处理人"),
    ("due_at", "回复期限"), ("first_response_at", "首次响应"), ("resolved_at", "办结时间"),
    ("resolution", "办结说明"), ("satisfaction_zh", "评价"), ("overdue", "是否超时"),
]
MAX_EXPORT_DAYS = 366


def _month_start(now: datetime, tz) -> date:
    return now.astimezone(tz).date().replace(day=1)


async def export_page(request: web.Request) -> web.Response:
    console = deps(request)
    tz = console.settings.community.tz
    now = console.clock()
    return await render(request, "console/export.html", {
        "title": "导出", "start": _month_start(now, tz).isoformat(), "end": now.astimezone(tz).date().isoformat(),
        "statuses": STATUS_CHOICES, "categories": CATEGORY_CHOICES,
        "grids": [(g.id, g.name) for g in console.settings.grids],
    })


def _cell(value) -> str:
    """CSV cells that a spreadsheet would run as a formula start with a quote instead."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        value = "、".join(str(v) for v in value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


async def export_csv(request: web.Request) -> web.StreamResponse:
    console = deps(request)
    settings = console.settings
    tz = settings.community.tz
    now = console.clock()
    start = parse_date(request.query.get("start")) or _month_start(now, tz)
    end = parse_date(request.query.get("end")) or now.astimezone(tz).date()
    if end < start:
        start, end = end, start
    if (end - start).days > MAX_EXPORT_DAYS:
        raise web.HTTPBadRequest(text=f"一次最多导出 {MAX_EXPORT_DAYS} 天。", content_type="text/plain")
    filters = Filters.parse(request.query, settings)
    filters.start, filters.end = start, end
    async with console.sessions() as session:
        page = await find(session, settings, viewer(request), filters, now, paged=False)
    out = io.StringIO()
    out.write("\ufeff")  # Excel needs the BOM to read UTF-8 Chinese
    writer = csv.writer(out)
    writer.writerow([label for _, label in CSV_COLUMNS])
    for row in sorted(page.rows, key=lambda r: r["id"]):
        shown = dict(row)
        for key in ("created_at", "due_at", "first_response_at", "resolved_at"):
            if shown[key]:
                shown[key] = datetime.fromisoformat(shown[key]).strftime("%Y-%m-%d %H:%M")
        writer.writerow([_cell(shown[key]) for key, _ in CSV_COLUMNS])
    name = f"tickets-{start.isoformat()}-{end.isoformat()}.csv"
    return web.Response(body=out.getvalue().encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

