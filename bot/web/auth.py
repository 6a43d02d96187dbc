"""Login, logout, and the two middlewares every console request goes through: who, and CSRF."""

from __future__ import annotations

import logging
import math
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy import select

from bot.services import accounts
from bot.web.common import VIEWER_KEY, Viewer, deps, flash, render
from bot.web.keys import ConsoleDeps
from bot.web.security import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, csrf_matches, new_csrf_token
from storage.models import Person, StaffCredential, StaffGrid

log = logging.getLogger(__name__)

# Everything else needs a logged-in staff member.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/metrics", "/sandbox", "/sandbox/ws", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
MACHINE_PREFIXES = ("/api/", "/open311/")  # answer 401 JSON instead of redirecting to the login page


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_machine(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES)


async def load_viewer(console: ConsoleDeps, person_id: int, *, version: str | None,
                      via_token: bool = False) -> Viewer | None:
    """The staff member still configured, with a password whose version matches the session's."""
    settings = console.settings
    async with console.sessions() as session:
        person = await session.get(Person, person_id)
        if person is None or person.role == "resident" or not accounts.configured_staff(settings, person.name):
            return None
        if version is not None:
            credential = await session.get(StaffCredential, person.id)
            if credential is None or accounts.session_version(credential.password_hash) != version:
                return None
        grids = (await session.scalars(select(StaffGrid.grid_id).where(StaffGrid.person_id == person.id))).all()
    teams = frozenset(t.name for t in settings.teams if person.name in t.members)
    return Viewer(id=person.id, name=person.name, role=person.role, grids=frozenset(grids), teams=teams,
                  via_token=via_token)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.path.startswith("/open311/"):
        return request.query.get("api_key") or None  # GeoReport v2 passes the key as a parameter
    return None


def unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text='{"error": "需要登录或 API 令牌"}', content_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="gridbot"'},
    )


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    if is_public(request.path):
        return await handler(request)
    console = deps(request)
    found: Viewer | None = None
    token = bearer_token(request) if is_machine(request.path) else None
    if token is not None:
        async with console.sessions() as session:
            person = await accounts.person_for_token(session, token)
        if person is not None:
            found = await load_viewer(console, person.id, version=None, via_token=True)
    else:
        session = await get_session(request)
        person_id = session.get("uid")
        if isinstance(person_id, int):
            found = await load_viewer(console, person_id, version=session.get("pwv", ""))
            if found is None:
                session.pop("uid", None)
    if found is None:
        if is_machine(request.path):
            raise unauthorized()
        raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
    request[VIEWER_KEY] = found
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Every state-changing request carries the session's CSRF token (form field or header)."""
    if request.method in UNSAFE_METHODS:
        session = await get_session(request)
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not csrf_matches(session.get("csrf"), given):
            log.warning("rejected a %s to %s without a valid CSRF token", request.method, request.path)
            if is_machine(request.path):
                raise web.HTTPForbidden(text='{"error": "CSRF 校验失败"}', content_type="application/json")
            raise web.HTTPForbidden(text="页面已过期或来源不明（CSRF 校验失败），请返回刷新页面后重试。",
                                    content_type="text/plain")
    return await handler(request)


# -- pages -------------------------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no //host): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/tickets"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/tickets"
    return target


async def login_page(request: web.Request) -> web.Response:
    session = await get_session(request)
    if isinstance(session.get("uid"), int):
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await render(request, "console/login.html", {"next": safe_next(request.query.get("next")), "name": ""})


async def login_submit(request: web.Request) -> web.Response:
    console = deps(request)
    form = await request.post()
    name = str(form.get("name") or "").strip()[:100]
    password = str(form.get("password") or "")[:accounts.MAX_PASSWORD_LENGTH + 1]
    target = safe_next(str(form.get("next") or ""))
    address = request.remote or "?"
    wait = console.limiter.retry_after(name, address)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        log.warning("login throttled for a name from %s", address)
        return await render(request, "console/login.html",
                            {"next": target, "name": name,
                             "error": f"尝试次数过多，请 {minutes} 分钟后再试。"}, status=429)
    async with console.sessions() as session:
        person = await accounts.authenticate(session, console.settings, name, password) if name and password else None
        credential = await session.get(StaffCredential, person.id) if person is not None else None
    if person is None or credential is None:
        console.limiter.failed(name, address)
        log.info("failed console login from %s", address)  # never the password, nor the name typed
        return await render(request, "console/login.html",
                            {"next": target, "name": name, "error": "姓名或密码不对。"}, status=401)
    console.limiter.succeeded(name)
    session = await new_session(request)  # a fresh session on login: no fixation
    session["uid"] = person.id
    session["pwv"] = accounts.session_version(credential.password_hash)
    session["csrf"] = new_csrf_token()
    log.info("staff member %d logged in to the console", person.id)
    await flash(request, f"欢迎，{person.name}。")
    raise web.HTTPFound(target)


async def logout(request: web.Request) -> web.Response:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")
