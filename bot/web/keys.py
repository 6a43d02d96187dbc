"""Typed keys for what the web app shares with its handlers."""

from typing import Awaitable, Callable

from aiohttp import web

from bot.transports.sandbox import SandboxTransport

SANDBOX_KEY = web.AppKey("sandbox", SandboxTransport)
HEALTH_KEY = web.AppKey("health", Callable[[], Awaitable[dict]])
COMMUNITY_KEY = web.AppKey("community", str)
