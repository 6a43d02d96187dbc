"""SQLite's WAL copied back into the database file in the background, not by a commit.

By default the commit that brings the write-ahead log past 1,000 pages copies it into the
database file and fsyncs it, there and then: on a small office PC that one commit takes 10–20 ms
instead of 1, about once every hundred messages, and every message behind it waits. The bot's
engine turns that off (`PRAGMA wal_autocheckpoint=0`, see storage/db.py) and this task does the
copying instead, from a connection and thread of its own, in PASSIVE mode: it never waits for
or blocks the bot's readers and writers, and whatever it cannot copy now it copies next time.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import make_url

from storage import sqlite_driver

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.5


class WalCheckpointer:
    def __init__(self, url: str, interval: float = INTERVAL_SECONDS):
        self.database = make_url(url).database
        self.interval = interval
        self.runs = 0
        self._task: asyncio.Task | None = None
        self._connection: sqlite_driver.Connection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sqlite-checkpoint")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await self.checkpoint()  # leave the database file up to date
        except Exception:
            log.exception("final WAL checkpoint failed")
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames copied)."""
        if self._connection is None:
            self._connection = await sqlite_driver.connect(self.database, timeout=30)
        cursor = await self._connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = await cursor.fetchone()
        self.runs += 1
        return tuple(row) if row else (0, 0, 0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.checkpoint()
            except asyncio.CancelledError:
                raise
            except Exception:  # a locked or missing file now is no reason to stop for good
                log.exception("WAL checkpoint failed; trying again in %.1f s", self.interval)
