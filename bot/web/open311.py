"""Read-only Open311 GeoReport v2 endpoints so city platforms can pull tickets.

GET /open311/v2/services.json|xml, /open311/v2/services/{code}.json|xml,
    /open311/v2/requests.json|xml (service_request_id, service_code, start_date, end_date, status),
    /open311/v2/requests/{id}.json|xml.
Authentication: a staff member's API token as `api_key` or `Authorization: Bearer`; the token
sees what its owner sees. Residents' names are never given out and numbers in the text are masked.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

from aiohttp import web
from sqlalchemy import func, select

from bot.nlp.labels import CATEGORY_ZH
from bot.privacy import mask
from bot import texts
from bot.web.common import deps, viewer
from storage.models import Group, Ticket, TicketEvent

DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
SERVICE_DESCRIPTIONS = {
    "repair": "公共设施、水电气、电梯等报修", "property": "物业服务与收费", "environment": "垃圾、卫生、绿化、异味、虫害",
    "order": "噪音、乱停车、占道、违建、群租、宠物", "safety": "消防通道、电动车入户充电、护栏、井盖、燃气等安全隐患",
    "dispute": "邻里、租赁、漏水等矛盾纠纷", "health": "就医、疫苗、伤病", "welfare": "独居老人、困难帮扶、就业、托育",
    "policy": "证明、社保医保、居住证、补贴等办事咨询", "other": "其他事项",
}


def setup(app: web.Application) -> None:
    app.router.add_get(r"/open311/v2/services.{fmt:json|xml}", services)
    app.router.add_get(r"/open311/v2/services/{code:[a-z]+}.{fmt:json|xml}", service_definition)
    app.router.add_get(r"/open311/v2/requests.{fmt:json|xml}", requests)
    app.router.add_get(r"/open311/v2/requests/{id:\d{1,9}}.{fmt:json|xml}", one_request)


def _error(request: web.Request, status: int, description: str) -> web.Response:
    return _respond(request, "errors", "error", [{"code": status, "description": description}], status=status)


def _respond(request: web.Request, root: str, item: str, rows: list[dict], status: int = 200) -> web.Response:
    if request.match_info.get("fmt") == "xml":
        top = ET.Element(root)
        for row in rows:
            node = ET.SubElement(top, item)
            for key, value in row.items():
                child = ET.SubElement(node, key)
                if isinstance(value, list):
                    child.text = ",".join(str(v) for v in value)
                elif isinstance(value, bool):
                    child.text = "true" if value else "false"
                elif value is not None:
                    child.text = str(value)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8", xml_declaration=False)
        return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")
    return web.Response(text=json.dumps(rows, ensure_ascii=False), status=status,
                        content_type="application/json")


def _service(code: str) -> dict:
    return {"service_code": code, "service_name": CATEGORY_ZH[code], "description": SERVICE_DESCRIPTIONS.get(code, ""),
            "metadata": False, "type": "realtime", "keywords": "", "group": "社区网格"}


async def services(request: web.Request) -> web.Response:
    return _respond(request, "services", "service", [_service(c) for c in CATEGORY_ZH if c != "none"])


async def service_definition(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if code not in CATEGORY_ZH or code == "none":
        return _error(request, 404, f"unknown service_code {code}")
    if request.match_info.get("fmt") == "xml":
        top = ET.Element("service_definition")
        ET.SubElement(top, "service_code").text = code
        ET.SubElement(top, "attributes")
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
        return web.Response(body=body, content_type="text/xml", charset="utf-8")
    return web.json_response({"service_code": code, "attributes": []})


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(value) from None
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed


def _request_row(t: Ticket, topic: str, updated: datetime | None, settings) -> dict:
    tz = settings.community.tz
    closed = t.status not in ("open", "in_progress")
    notes = texts.STATUS_ZH.get(t.status, t.status)
    if t.resolution:
        notes += "：" + mask(t.resolution)
    grid = settings.grid_name(t.grid_id)
    return {
        "service_request_id": str(t.id),
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": CATEGORY_ZH.get(t.category, t.category),
        "service_code": t.category,
        "description": mask(t.text),
        "agency_responsible": settings.community.name + (f"（{grid}）" if grid else ""),
        "service_notice": "",
        "requested_datetime": t.created_at.astimezone(tz).isoformat(),
        "updated_datetime": (updated or t.created_at).astimezone(tz).isoformat(),
        "expected_datetime": t.due_at.astimezone(tz).isoformat(),
        "address": topic + (f"，{grid}" if grid else ""),
        "address_id": t.grid_id or "",
        "zipcode": "",
        "lat": None,
        "long": None,
        "media_url": "",
    }


async def _find(request: web.Request, extra: list) -> list[dict]:
    console = deps(request)
    settings = console.settings
    last_event = (select(TicketEvent.ticket_id, func.max(TicketEvent.created_at).label("updated"))
                  .group_by(TicketEvent.ticket_id).subquery())
    query = (select(Ticket, Group.topic, last_event.c.updated)
             .join(Group, Group.id == Ticket.group_id)
             .outerjoin(last_event, last_event.c.ticket_id == Ticket.id)
             .where(viewer(request).ticket_scope(), *extra)
             .order_by(Ticket.created_at.desc()).limit(MAX_REQUESTS))
    async with console.sessions() as session:
        rows = (await session.execute(query)).all()
    return [_request_row(t, topic, updated, settings) for t, topic, updated in rows]


async def requests(request: web.Request) -> web.Response:
    q = request.query
    where: list = []
    ids = [part.strip() for part in q.get("service_request_id", "").split(",") if part.strip()]
    if ids:
        if not all(i.isdigit() and len(i) < 10 for i in ids):
            return _error(request, 400, "service_request_id must be numbers separated by commas")
        where.append(Ticket.id.in_([int(i) for i in ids[:MAX_REQUESTS]]))
    else:  # the other filters apply only without explicit ids (GeoReport v2)
        codes = [c.strip() for c in q.get("service_code", "").split(",") if c.strip()]
        if any(c not in CATEGORY_ZH for c in codes):
            return _error(request, 400, "unknown service_code")
        if codes:
            where.append(Ticket.category.in_(codes))
        try:
            start, end = _parse_time(q.get("start_date")), _parse_time(q.get("end_date"))
        except ValueError:
            return _error(request, 400, "start_date and end_date must be ISO 8601 with a time zone (w3c format)")
        now = deps(request).clock()
        if start is None and end is None:
            start = now - timedelta(days=DEFAULT_DAYS)
        if start is not None:
            where.append(Ticket.created_at >= start)
        if end is not None:
            where.append(Ticket.created_at <= end)
        statuses = {s.strip() for s in q.get("status", "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            return _error(request, 400, "status is open, closed or both")
        if statuses == {"open"}:
            where.append(Ticket.status.in_(("open", "in_progress")))
        elif statuses == {"closed"}:
            where.append(Ticket.status.in_(("resolved", "closed", "cancelled")))
    return _respond(request, "service_requests", "request", await _find(request, where))


async def one_request(request: web.Request) -> web.Response:
    rows = await _find(request, [Ticket.id == int(request.match_info["id"])])
    if not rows:
        return _error(request, 404, "no such service request")
    return _respond(request, "service_requests", "request", rows)
