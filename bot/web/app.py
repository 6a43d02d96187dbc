"""init_app-style factory for the web server."""

from __future__ import annotations

from pathlib import Path
from typing import Awaitable, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.transports.sandbox import SandboxTransport
from bot.web import sandbox
from bot.web.keys import COMMUNITY_KEY, HEALTH_KEY, SANDBOX_KEY

HERE = Path(__file__).parent
HealthProbe = Callable[[], Awaitable[dict]]


def create_web_app(*, community: str, health: HealthProbe, sandbox_transport: SandboxTransport | None) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[COMMUNITY_KEY] = community
    app[HEALTH_KEY] = health
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", HERE / "static", name="static")
    if sandbox_transport is not None:
        app[SANDBOX_KEY] = sandbox_transport
        app.router.add_get("/sandbox", sandbox.page)
        app.router.add_get("/sandbox/ws", sandbox.websocket)
    return app


async def index(request: web.Request) -> web.StreamResponse:
    if SANDBOX_KEY in request.app:
        raise web.HTTPFound("/sandbox")
    return web.Response(text=f"{request.app[COMMUNITY_KEY]} · gridbot 运行中", content_type="text/plain")


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[HEALTH_KEY]()
    return web.json_response(report, status=200 if report.get("ok") else 503)
