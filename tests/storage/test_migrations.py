"""Alembic migrations upgrade and downgrade on SQLite and PostgreSQL (GRIDBOT_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from storage.db import create_engine, downgrade_sync, upgrade_sync
from storage.models import Base
from tests.conftest import database_url


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(tmp_path, reset_database):
    url = database_url(tmp_path)
    await asyncio.to_thread(upgrade_sync, url)
    assert set(Base.metadata.tables) <= await table_names(url)
    await asyncio.to_thread(downgrade_sync, url, "base")
    assert not (set(Base.metadata.tables) & await table_names(url))
    await asyncio.to_thread(upgrade_sync, url)
    assert set(Base.metadata.tables) <= await table_names(url)


async def test_each_step_down_and_up(tmp_path, reset_database):
    url = database_url(tmp_path)
    for revision in ("0001", "0002", "0003", "0004", "0005"):
        await asyncio.to_thread(upgrade_sync, url, revision)
    for revision in ("0004", "0003", "0002", "0001", "base"):
        await asyncio.to_thread(downgrade_sync, url, revision)
    await asyncio.to_thread(upgrade_sync, url)
