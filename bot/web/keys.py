"""Typed keys for what the web app shares with its handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.transports.sandbox import SandboxTransport
from bot.web.security import LoginLimiter


@dataclass
class ConsoleDeps:
    """What the staff console needs from the running bot."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    secret_key: bytes  # 32 bytes for the encrypted session cookie (bot.web.security.load_secret_key)
    wake: Callable[[], None] = lambda: None  # the outbox sender's wake(): call after committing
    clock: Callable[[], datetime] = field(default=None)  # type: ignore[assignment]
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    connected: Callable[[], bool] = lambda: True  # is the chat transport up (for /metrics)
    metrics_lag_seconds: float = 1.0  # /metrics counts rows stamped at least this long ago

    def __post_init__(self) -> None:
        if self.clock is None:
            from bot.events import utcnow

            self.clock = utcnow


SANDBOX_KEY = web.AppKey("sandbox", SandboxTransport)
HEALTH_KEY = web.AppKey("health", Callable[[], Awaitable[dict]])
COMMUNITY_KEY = web.AppKey("community", str)
CONSOLE_KEY = web.AppKey("console", ConsoleDeps)
