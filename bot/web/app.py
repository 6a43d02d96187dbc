"""init_app-style factory for the web server: sandbox page, health, and (given its deps) the staff console."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Awaitable, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.transports.sandbox import SandboxTransport
from bot.web import sandbox
from bot.web.keys import COMMUNITY_KEY, CONSOLE_KEY, HEALTH_KEY, SANDBOX_KEY, ConsoleDeps

# aiohttp-session 2.12 keeps its session under plain string request keys; aiohttp 3.14 warns once about it.
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")

HERE = Path(__file__).parent
HealthProbe = Callable[[], Awaitable[dict]]
SESSION_COOKIE = "gridbot_session"
SESSION_HOURS = 12


def create_web_app(*, community: str, health: HealthProbe, sandbox_transport: SandboxTransport | None,
                   console: ConsoleDeps | None = None) -> web.Application:
    middlewares = []
    if console is not None:
        from bot.web import auth, security

        storage = EncryptedCookieStorage(console.secret_key, cookie_name=SESSION_COOKIE, httponly=True,
                                         samesite="Lax", max_age=SESSION_HOURS * 3600, path="/")
        middlewares = [security.security_headers, session_middleware(storage), auth.auth_middleware,
                       auth.csrf_middleware]
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=middlewares)
    app[COMMUNITY_KEY] = community
    app[HEALTH_KEY] = health
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.globals["static_version"] = _static_version()
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", HERE / "static", name="static")
    if sandbox_transport is not None:
        app[SANDBOX_KEY] = sandbox_transport
        app.router.add_get("/sandbox", sandbox.page)
        app.router.add_get("/sandbox/ws", sandbox.websocket)
    if console is None:
        app.router.add_get("/", index)
        return app
    from bot.web import api, auth, console as pages, metrics, open311

    app[CONSOLE_KEY] = console
    app.router.add_get("/login", auth.login_page)
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    metrics.setup(app, console)
    pages.setup(app)
    api.setup(app)
    open311.setup(app)
    return app


def _static_version() -> str:
    """Changes when a static file changes, so phones don't keep an old stylesheet."""
    newest = max((p.stat().st_mtime_ns for p in (HERE / "static").iterdir()), default=0)
    return str(newest // 1_000_000_000)


async def index(request: web.Request) -> web.StreamResponse:
    if SANDBOX_KEY in request.app:
        raise web.HTTPFound("/sandbox")
    return web.Response(text=f"{request.app[COMMUNITY_KEY]} · gridbot 运行中", content_type="text/plain")


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[HEALTH_KEY]()
    return web.json_response(report, status=200 if report.get("ok") else 503)
