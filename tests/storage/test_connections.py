"""How the bot's engine keeps its connections cheap: SQLite's WAL is copied back in the background,
not by a commit; PostgreSQL connections are pinged only after sitting idle."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text

from storage import db
from tests.bot.loop_helpers import all_tickets, resident_says


def _sqlite_only(settings) -> None:
    if not settings.storage.url.startswith("sqlite"):
        pytest.skip("SQLite's write-ahead log")


def _postgresql_only(settings) -> None:
    if not settings.storage.url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connection pool")


async def test_commits_leave_the_wal_to_the_background_checkpointer(bot, settings):
    _sqlite_only(settings)
    async with bot.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
    database = settings.storage.url.split("///", 1)[1]
    before = os.path.getsize(database)
    runs = bot.checkpointer.runs
    for n in range(3):  # a few MB through the log
        await resident_says(bot, f"{n}号楼门口的路灯坏了，晚上很黑" + "，" * 20_000, name=f"居民{n}")
    for _ in range(100):  # the checkpointer copies the log into the database file within a second
        # Both: the file grows on the checkpointer's thread before its run is counted on the loop.
        if os.path.getsize(database) > before + 100_000 and bot.checkpointer.runs > runs:
            break
        await asyncio.sleep(0.05)
    assert os.path.getsize(database) > before + 100_000
    assert bot.checkpointer.runs > runs
    assert len(await all_tickets(bot)) == 3


@pytest.fixture
def pings(monkeypatch) -> list[int]:
    """Counts the pings of PostgreSQL connections (asyncpg's: BEGIN, a query, ROLLBACK)."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    calls: list[int] = []
    real = AsyncAdapt_asyncpg_connection.ping

    def counted(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return calls


@pytest.fixture
async def engine(settings, monkeypatch):
    _postgresql_only(settings)
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0.2)
    engine = db.create_engine(settings.storage.url)
    yield engine
    await engine.dispose()


async def _cut_other_connections(url: str) -> None:
    """What a server restart does to the pool's connections."""
    admin = db.create_engine(url)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        await admin.dispose()


async def test_a_connection_cut_while_idle_is_replaced_before_use(engine, settings, pings):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    await _cut_other_connections(settings.storage.url)
    await asyncio.sleep(0.3)  # idle longer than IDLE_BEFORE_PING_SECONDS
    async with engine.begin() as conn:  # no error: the dead connection was noticed and replaced
        assert (await conn.execute(text("SELECT 2"))).scalar() == 2
    assert pings == [1]


async def test_connections_in_use_are_not_pinged(engine, pings):
    for n in range(20):
        async with engine.begin() as conn:
            await conn.execute(text("SELECT 1"))
    assert pings == []
