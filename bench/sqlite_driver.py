"""SQLite statement cost through AsyncSession: stock aiosqlite vs storage/sqlite_driver.py.

    python -m bench.sqlite_driver [--n 2000] [--rounds 3]

Both engines on the same temporary WAL file with the same PRAGMAs; the stock one is what
storage.db.create_engine built before (create_async_engine + a "connect" listener). Rounds
alternate between the two; the best round of each is printed, in milliseconds per operation:
- `SELECT 1`, one session each: open a session, one SELECT, close (returns the connection);
- `SELECT 1` ×10 in one session: the statement alone;
- INSERT + COMMIT, one session each (`sessions.begin()`).
Worker-thread hops per operation are counted by wrapping aiosqlite.Connection._execute.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from unittest import mock

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import machine, table
from storage import db


def stock_engine(url: str) -> AsyncEngine:
    """storage.db.create_engine for SQLite before the one-hop driver."""
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        for pragma in db.SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine


async def measure(engine: AsyncEngine, n: int) -> dict[str, tuple[float, float]]:
    """ms per operation and worker hops per operation, for each operation."""
    sessions = db.session_factory(engine)
    hops = 0
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        nonlocal hops
        hops += 1
        return await original(self, fn, *args, **kwargs)

    async def select_session() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    async def select_ten() -> None:
        async with sessions() as session:
            for _ in range(10):
                await session.execute(text("SELECT 1"))

    async def insert_commit() -> None:
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO bench_rows (body) VALUES ('x')"))

    out = {}
    with mock.patch.object(aiosqlite.Connection, "_execute", counted):
        for label, op, per in (("SELECT 1, one session each", select_session, 1),
                               ("SELECT 1 x10 in one session (per statement)", select_ten, 10),
                               ("INSERT + COMMIT, one session each", insert_commit, 1)):
            await op()  # warm: pooled connection, compiled statement
            hops = 0
            t0 = time.perf_counter()
            for _ in range(n // per):
                await op()
            elapsed = time.perf_counter() - t0
            count = (n // per) * per
            out[label] = (elapsed * 1000 / count, hops / count)
    return out


async def amain(args) -> None:
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="gridbot-sqlite-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp)}/bench.db"
        engines = {"stock aiosqlite": stock_engine(url), "one-hop driver": db.create_engine(url)}
        try:
            async with engines["one-hop driver"].begin() as conn:
                await conn.execute(text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, body TEXT)"))
            best: dict[tuple[str, str], tuple[float, float]] = {}
            for _ in range(args.rounds):
                for name, engine in engines.items():
                    for label, (ms, hops) in (await measure(engine, args.n)).items():
                        if (name, label) not in best or ms < best[name, label][0]:
                            best[name, label] = (ms, hops)
        finally:
            for engine in engines.values():
                await engine.dispose()
    labels = list(dict.fromkeys(label for _, label in best))
    rows = []
    for label in labels:
        (old_ms, old_hops), (new_ms, new_hops) = best["stock aiosqlite", label], best["one-hop driver", label]
        rows.append((label, f"{old_ms:.3f} ms / {old_hops:.1f}", f"{new_ms:.3f} ms / {new_hops:.1f}",
                     f"{old_ms / new_ms:.1f}x"))
    print(f"{args.n} operations a round, best of {args.rounds} rounds; ms per operation / worker hops per operation")
    print(table(rows, ("operation", "stock aiosqlite", "one-hop driver", "speed-up")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(amain(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
