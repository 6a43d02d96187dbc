"""Engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_driver

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite_file(url: str) -> bool:
    """A SQLite database in a file (not `:memory:`)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:"


def ensure_sqlite_folder(url: str) -> None:
    """`make run` on a clean clone: create data/ for the default SQLite file."""
    if is_sqlite_file(url):
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)
# For an engine whose WAL is copied back by storage/sqlite_checkpoint.py instead of by commits.
NO_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint=0"


def create_engine(url: str, *, background_checkpoints: bool = False) -> AsyncEngine:
    """`background_checkpoints`: the caller runs a WalCheckpointer, so commits never copy the WAL
    (SQLite only; without one the WAL would grow without end)."""
    ensure_sqlite_folder(url)
    if url.startswith("sqlite"):
        pragmas = SQLITE_PRAGMAS + ((NO_AUTOCHECKPOINT,) if background_checkpoints else ())
        # One worker-thread hop per statement instead of 3-4 (see storage/sqlite_driver.py).
        return sqlite_driver.create_engine(url, pragmas=pragmas, timeout=30)
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    _ping_connections_left_idle(engine)
    return engine


# A connection used less than this long ago is taken as alive (a failed statement is retried anyway).
IDLE_BEFORE_PING_SECONDS = 5.0


def _ping_connections_left_idle(engine: AsyncEngine) -> None:
    """Like pool_pre_ping, but only for connections that sat idle in the pool for a while.

    pool_pre_ping pings at every checkout, and asyncpg's ping is three round trips (BEGIN, a query,
    ROLLBACK): more than the statements of a short transaction. A connection given back moments ago
    is alive; one idle for minutes may have been cut by a server restart, and is replaced here
    before a statement fails on it.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool drops this connection and checks out another
            raise DisconnectionError(f"connection idle for {time.monotonic() - idle_since:.0f} s is gone") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


def downgrade_sync(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Alembic is synchronous and runs its own event loop in env.py: give it a thread."""
    await asyncio.to_thread(upgrade_sync, url, revision)
