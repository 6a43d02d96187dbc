"""The one-hop SQLite driver (storage/sqlite_driver.py) behind storage.db.create_engine, on a real file."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Integer, String, column, insert, select, table, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from storage import db, sqlite_driver

items = table("items", column("id", Integer), column("name", String), column("n", Integer))


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/driver.db"


@pytest.fixture
async def engine(tmp_path):
    engine = db.create_engine(sqlite_url(tmp_path))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return db.session_factory(engine)


@pytest.fixture
def hops(monkeypatch):
    """Every call queued on an aiosqlite worker thread, as (thread id it ran on) — stock or one-hop."""
    calls: list[int] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        def on_worker():
            calls.append(threading.get_ident())
            return fn(*args, **kwargs)

        return await original(self, on_worker)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def names(sessions) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(select(items.c.name).order_by(items.c.id))).scalars())


async def test_engine_uses_the_one_hop_connection_with_the_pragmas(engine):
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_driver.Connection)
        pragmas = {name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                   for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}


async def test_select_rows_and_description(sessions):
    async with sessions.begin() as session:
        await session.execute(insert(items), [{"name": f"n{i}", "n": i} for i in range(5)])
    async with sessions() as session:
        result = await session.execute(select(items.c.name, items.c.n).where(items.c.n >= 2).order_by(items.c.n))
        assert list(result.keys()) == ["name", "n"]
        assert result.all() == [("n2", 2), ("n3", 3), ("n4", 4)]
        assert (await session.execute(select(items).where(items.c.n > 99))).all() == []
        assert (await session.execute(text("SELECT 1, 'two'"))).one() == (1, "two")
        # a server-side cursor (stream) gets every row too, in partitions
        stream = await session.stream(select(items.c.n).order_by(items.c.n))
        assert [row async for row in stream.scalars()] == [0, 1, 2, 3, 4]


async def test_insert_returning(sessions):
    async with sessions.begin() as session:
        rows = (await session.execute(
            insert(items).values([{"name": "a", "n": 1}, {"name": "b", "n": 2}]).returning(items.c.id, items.c.name)
        )).all()
    assert [name for _, name in rows] == ["a", "b"]
    assert rows[1][0] == rows[0][0] + 1
    assert await names(sessions) == ["a", "b"]


async def test_executemany_rowcount_and_lastrowid(engine, sessions):
    async with engine.begin() as conn:
        many = await conn.exec_driver_sql("INSERT INTO items (name, n) VALUES (?, ?)", [("x", 1), ("y", 1), ("z", 2)])
        assert many.rowcount == 3
        one = await conn.exec_driver_sql("INSERT INTO items (name, n) VALUES ('w', 3)")
        assert one.lastrowid == 4
        changed = await conn.execute(update(items).where(items.c.n == 1).values(n=10))
        assert changed.rowcount == 2
        nothing = await conn.execute(update(items).where(items.c.n == 99).values(n=0))
        assert nothing.rowcount == 0
    async with sessions() as session:
        assert (await session.execute(select(items.c.name).where(items.c.n == 10).order_by(items.c.name))).scalars().all() == ["x", "y"]


async def test_unique_violation_is_integrity_error_and_rolls_back_the_transaction(sessions):
    async with sessions.begin() as session:
        await session.execute(insert(items).values(name="taken", n=0))
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with sessions.begin() as session:
            await session.execute(insert(items).values(name="first", n=1))
            await session.execute(insert(items).values(name="taken", n=2))
    # the same pooled connection commits next: "first" must not ride along
    async with sessions.begin() as session:
        await session.execute(insert(items).values(name="later", n=3))
    assert await names(sessions) == ["taken", "later"]


async def test_failed_block_and_explicit_rollback_leave_nothing(sessions):
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await session.execute(insert(items).values(name="doomed", n=1))
            raise RuntimeError("handler failed")
    async with sessions() as session:
        await session.execute(insert(items).values(name="undone", n=2))
        await session.rollback()
        await session.execute(insert(items).values(name="kept", n=3))
        await session.commit()
    async with sessions() as session:  # closed without commit: rolled back
        await session.execute(insert(items).values(name="dropped", n=4))
    assert await names(sessions) == ["kept"]


@contextlib.asynccontextmanager
async def loop_ticks():
    """Counts the event loop's turns, one every 10 ms, while the block runs: a wait on the loop
    thread would stop them."""
    ticks = [0]

    async def heartbeat():
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(heartbeat())
    try:
        yield ticks
    finally:
        beat.cancel()


async def test_locked_database_is_operational_error_and_the_loop_keeps_running(tmp_path, engine, sessions):
    holder = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # takes the write lock, waits for nothing
    try:
        async with loop_ticks() as ticks, sessions() as session:
            await session.execute(text("PRAGMA busy_timeout=300"))
            with pytest.raises(OperationalError, match="database is locked"):
                await session.execute(insert(items).values(name="blocked", n=1))
            await session.rollback()
            await session.execute(text("PRAGMA busy_timeout=30000"))
    finally:
        holder.rollback()
        holder.close()
    assert ticks[0] >= 10  # ~30 in 0.3 s: the lock wait happened on the worker thread, not on the loop
    async with sessions.begin() as session:
        await session.execute(insert(items).values(name="after", n=2))
    assert await names(sessions) == ["after"]


async def test_concurrent_sessions(engine, sessions):
    """Writers on several pooled connections wait for SQLite's write lock on their worker threads."""
    most_checked_out = 0

    async def worker(i: int) -> int:
        nonlocal most_checked_out
        async with sessions.begin() as session:
            await session.execute(insert(items).values(name=f"w{i}", n=i))
            most_checked_out = max(most_checked_out, engine.sync_engine.pool.checkedout())
            await asyncio.sleep(0)
            return (await session.execute(select(items.c.n).where(items.c.name == f"w{i}"))).scalar_one()

    assert await asyncio.gather(*(worker(i) for i in range(40))) == list(range(40))
    async with sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM items"))).scalar() == 40
    assert most_checked_out >= 2


async def test_one_worker_hop_per_statement(sessions, hops):
    loop_thread = threading.get_ident()
    async with sessions() as session:  # warm: the pool holds an open connection
        await session.execute(text("SELECT 1"))
    hops.clear()

    async with sessions() as session:
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
    assert len(hops) == 1  # statement; no cursor/fetch/close trips, no rollback outside a transaction

    hops.clear()
    async with sessions() as session:
        for i in range(10):
            assert (await session.execute(select(items.c.id).where(items.c.n == i))).all() == []
    assert len(hops) == 10

    hops.clear()
    async with sessions.begin() as session:
        await session.execute(insert(items).values(name="a", n=1))
        await session.execute(update(items).values(n=2))
    assert len(hops) == 3  # two statements + COMMIT

    hops.clear()
    async with sessions() as session:
        await session.execute(insert(items).values(name="b", n=1))
    assert len(hops) == 2  # statement + the ROLLBACK a transaction does need
    assert loop_thread not in hops
    assert await names(sessions) == ["a"]


async def test_hop_counter_sees_stock_aiosqlite_take_more(tmp_path, hops):
    """The counter is real: stock aiosqlite needs cursor, execute, fetchall and close trips."""
    stock = create_async_engine(sqlite_url(tmp_path))
    try:
        sessions = db.session_factory(stock)
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
        hops.clear()
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
        assert len(hops) >= 4
    finally:
        await stock.dispose()


async def test_raw_connection_api(tmp_path):
    async with sqlite_driver.connect(str(tmp_path / "raw.db")) as conn:
        async with conn.cursor() as cursor:
            await cursor.executescript("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        assert not conn.in_transaction  # executescript commits
        cursor = await conn.cursor()
        await cursor.execute("INSERT INTO t VALUES (?)", (4,))
        assert conn.in_transaction and cursor.rowcount == 1 and cursor.description is None
        await conn.rollback()
        assert not conn.in_transaction
        await cursor.execute("SELECT v FROM t ORDER BY v")
        assert cursor.description[0][0] == "v"
        assert await cursor.fetchone() == (1,)
        assert await cursor.fetchmany(2) == [(2,), (3,)]
        assert await cursor.fetchall() == []
        cursor.row_factory = sqlite3.Row
        await cursor.execute("SELECT v FROM t ORDER BY v DESC")
        assert [row["v"] async for row in cursor] == [3, 2, 1]
        await conn.commit()  # nothing open: no-op, as in sqlite3
    with pytest.raises(ValueError):  # closed, as with aiosqlite
        await cursor.execute("SELECT 1")


async def test_memory_url(tmp_path):
    engine = db.create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (7)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT v FROM t"))).scalar() == 7
    finally:
        await engine.dispose()


@pytest.fixture
async def bot_engine(tmp_path):
    """The engine as the bot makes it: WAL copied back in the background, not by commits."""
    engine = db.create_engine(sqlite_url(tmp_path), background_checkpoints=True)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER)"))
    yield engine
    await engine.dispose()


async def test_on_the_loop_only_the_first_write_of_a_transaction_leaves_the_loop(bot_engine, hops):
    sessions = db.session_factory(bot_engine)
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    hops.clear()
    with sqlite_driver.on_the_loop():
        async with sessions() as session:
            for i in range(5):
                assert (await session.execute(select(items.c.id).where(items.c.n == i))).all() == []
        assert hops == []  # reads never wait for a writer in WAL mode
        async with sessions.begin() as session:
            await session.execute(insert(items).values(name="a", n=1))  # may wait for the lock: worker
            await session.execute(update(items).values(n=2))  # holds the lock now: on the loop
            assert (await session.execute(select(items.c.n))).scalar() == 2
        assert len(hops) == 1  # the COMMIT ran on the loop too
        async with sessions() as session:
            await session.execute(insert(items).values(name="b", n=3))
        assert len(hops) == 2  # and so did the ROLLBACK of this one
    async with sessions.begin() as session:  # outside the block: one hop per statement, as before
        await session.execute(update(items).values(n=4))
    assert len(hops) == 4
    assert await names(sessions) == ["a"]


async def test_on_the_loop_a_first_write_still_waits_for_the_lock_off_the_loop(tmp_path, bot_engine):
    sessions = db.session_factory(bot_engine)
    holder = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing

    async def release_soon():
        await asyncio.sleep(0.3)
        holder.execute("INSERT INTO items (name, n) VALUES ('other', 0)")
        holder.execute("COMMIT")

    releasing = asyncio.create_task(release_soon())
    try:
        with sqlite_driver.on_the_loop():
            async with loop_ticks() as ticks, sessions.begin() as session:
                await session.execute(insert(items).values(name="mine", n=1))
                await session.execute(update(items).values(n=5).where(items.c.name == "mine"))
    finally:
        await releasing
        holder.close()
    assert ticks[0] >= 10  # the loop kept running while the INSERT waited for the other writer
    assert await names(sessions) == ["other", "mine"]


async def test_without_wal_everything_stays_on_the_worker(tmp_path, hops):
    engine = sqlite_driver.create_engine(f"sqlite+aiosqlite:///{tmp_path}/journal.db",
                                         pragmas=("PRAGMA journal_mode=DELETE",))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v INTEGER)"))
        hops.clear()
        with sqlite_driver.on_the_loop():
            async with engine.begin() as conn:  # a reader could make this COMMIT wait: not on the loop
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                await conn.execute(text("SELECT v FROM t"))
        assert len(hops) == 3
    finally:
        await engine.dispose()


def test_a_terminated_connection_stops_quietly_after_its_event_loop_is_closed(tmp_path):
    """SQLAlchemy terminates a connection it cannot reset (a task cancelled mid-statement at shutdown)
    with aiosqlite's stop(), and does not wait for it. If the worker thread was still busy and the loop
    closed meanwhile, stock stop() made the thread report to the closed loop: "Event loop is closed"
    raised in the thread, which pytest pinned on whatever test ran next."""
    failures: list[BaseException] = []
    previous, threading.excepthook = threading.excepthook, lambda args: failures.append(args.exc_value)
    loop = asyncio.new_event_loop()
    try:
        connection = loop.run_until_complete(sqlite_driver.connect(str(tmp_path / "t.db")))
        busy = threading.Event()
        connection._tx.put_nowait((None, lambda: busy.wait(5)))  # the worker is in the middle of a call

        async def terminate() -> None:  # as SQLAlchemy does, from the loop, without waiting
            connection.stop()

        loop.run_until_complete(terminate())
        loop.close()
        busy.set()
        connection._thread.join(5)
    finally:
        threading.excepthook = previous
    assert not connection._thread.is_alive()
    assert failures == []
