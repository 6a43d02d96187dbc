"""Shared fixtures: settings for 西园社区, a fake transport, a started bot on a fresh database."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.events import IncomingMessage, Outgoing
from bot.transports.base import EventHandler, Transport, TransportUnavailable

ROOT = Path(__file__).resolve().parent.parent
RESIDENT_GROUP = "西园3号楼业主群"
STAFF_GROUP = "西园社区网格工作群"


def database_url(tmp_path: Path) -> str:
    """SQLite in the test's folder, or the PostgreSQL of GRIDBOT_TEST_DATABASE_URL (a fresh schema each)."""
    return os.environ.get("GRIDBOT_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path}/gridbot.db"


def make_settings(tmp_path: Path, extra_toml: str = "", **sections: dict[str, Any]) -> Settings:
    """config.toml (plus extra TOML appended, e.g. more [[staff]]) with test-friendly overrides."""
    config = ROOT / "config.toml"
    if extra_toml:
        config = tmp_path / "config.toml"
        config.write_text((ROOT / "config.toml").read_text(encoding="utf-8") + "\n" + extra_toml, encoding="utf-8")
    env = {
        "GRIDBOT_STORAGE_URL": database_url(tmp_path),
        "GRIDBOT_STORAGE_DATA_DIR": str(tmp_path / "data"),
        "GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS": "0",
        "GRIDBOT_OUTBOX_PER_ACCOUNT_PER_MINUTE": "100000",  # pacing has its own tests
        "GRIDBOT_OUTBOX_POLL_SECONDS": "0.05",
        "GRIDBOT_WEB_PORT": "0",
    }
    for section, values in sections.items():
        for key, value in values.items():
            env[f"GRIDBOT_{section.upper()}_{key.upper()}"] = str(value)
    return load_settings(config, env)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def classifier():
    from bot.nlp.classifier import Classifier

    return Classifier(load_settings(ROOT / "config.toml", {}).community_words())


class FakeTransport(Transport):
    """Records what the bot said; can be switched off to play a disconnect."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.up = True
        self.on_event: EventHandler | None = None
        self.changed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.up and self.on_event is not None

    async def start(self, on_event: EventHandler) -> None:
        self.on_event = on_event

    async def stop(self) -> None:
        self.on_event = None

    async def send(self, message: Outgoing) -> None:
        if not self.up:
            raise TransportUnavailable("fake transport is down")
        self.sent.append(message)
        self.changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Outgoing]:
        async def _wait() -> None:
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(_wait(), timeout)
        return self.sent

    def in_room(self, topic: str) -> list[Outgoing]:
        return [m for m in self.sent if m.room_topic == topic]


def resident_message(text: str, *, name: str = "王阿姨", group: str | None = RESIDENT_GROUP,
                     message_id: str | None = None, **extra: Any) -> IncomingMessage:
    return IncomingMessage(
        message_id=message_id or uuid.uuid4().hex,
        talker_id=f"wxid_{name}",
        talker_name=name,
        text=text,
        room_id=f"{group}@chatroom" if group else None,
        room_topic=group,
        **extra,
    )


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
async def reset_database(settings: Settings):
    """PostgreSQL runs share one database: start each test from an empty schema."""
    if settings.storage.url.startswith("postgresql"):
        from sqlalchemy import text

        from storage.db import create_engine

        engine = create_engine(settings.storage.url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    yield


class Clock:
    """A frozen, hand-moved clock for SLA and schedule tests."""

    def __init__(self, start: datetime | None = None):
        # Tuesday 10:00 in Shanghai: a working day, away from the Monday 09:00 digest.
        self.now = start or datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(settings, transport, classifier, reset_database):
    from bot.app import GridBot

    instance = GridBot(settings, transport=transport, classifier=classifier)
    await instance.start(web_server=False)
    yield instance
    await instance.stop()
