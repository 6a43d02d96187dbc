"""Shared bits of the console handlers: who is looking, what they may see, rendering, flash notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import false, or_, true

from bot import texts
from bot.web.keys import COMMUNITY_KEY, CONSOLE_KEY, ConsoleDeps
from bot.web.security import new_csrf_token
from storage.models import Ticket

ROLE_ZH = {"grid_worker": "网格员", "supervisor": "负责人"}


@dataclass(frozen=True)
class Viewer:
    """A logged-in staff member and the tickets they may see."""

    id: int
    name: str
    role: str
    grids: frozenset[str]
    teams: frozenset[str]
    via_token: bool = False

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def role_zh(self) -> str:
        return ROLE_ZH.get(self.role, self.role)

    def ticket_scope(self):
        """A supervisor sees everything; others their grids' tickets, their teams' and their own."""
        if self.is_supervisor:
            return true()
        clauses = [Ticket.assignee_id == self.id]
        if self.grids:
            clauses.append(Ticket.grid_id.in_(sorted(self.grids)))
        if self.teams:
            clauses.append(Ticket.team.in_(sorted(self.teams)))
        return or_(*clauses) if clauses else false()

    def can_see(self, ticket: Ticket) -> bool:
        return (self.is_supervisor or ticket.assignee_id == self.id or ticket.grid_id in self.grids
                or (ticket.team is not None and ticket.team in self.teams))


VIEWER_KEY = web.RequestKey("gridbot.viewer", Viewer)


def deps(request: web.Request) -> ConsoleDeps:
    return request.app[CONSOLE_KEY]


def viewer(request: web.Request) -> Viewer:
    return request[VIEWER_KEY]


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = new_csrf_token()
    return token


async def flash(request: web.Request, text: str, kind: str = "ok") -> None:
    session = await get_session(request)
    notes = list(session.get("flash", []))[-4:]
    notes.append([kind, text])
    session["flash"] = notes


async def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    session = await get_session(request)
    notes = session.pop("flash", [])
    base = {
        "community": request.app[COMMUNITY_KEY],
        "me": request.get(VIEWER_KEY),
        "csrf": await csrf_token(request),
        "flashes": notes,
        "path": request.path,
    }
    base.update(context)
    return aiohttp_jinja2.render_template(template, request, base, status=status)


def local_dt(when: datetime | None, settings_tz, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return when.astimezone(settings_tz).strftime(fmt) if when else ""


def short_time(when: datetime | None, tz) -> str:
    return texts.local_time(when, tz) if when else ""
