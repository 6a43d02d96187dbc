"""aiosqlite with one worker-thread hop per statement, for SQLAlchemy's sqlite+aiosqlite dialect.

SQLAlchemy's asyncio adapter awaits aiosqlite's cursor(), execute(), fetchall() and close()
one by one: three or four round trips to aiosqlite's worker thread per statement, each a thread
wake-up plus an event-loop wake-up (0.2–0.3 ms on a busy 2-core machine). Here:

- `Connection.cursor()` returns a `Cursor` at once, without a trip to the worker thread;
- `Cursor.execute()` / `executemany()` run the statement AND fetch all its rows in one call on
  the worker thread, and keep rows, description, rowcount and lastrowid;
- `fetchone()` / `fetchmany()` / `fetchall()` / `close()` work on those kept rows;
- `commit()` / `rollback()` outside a transaction return at once: sqlite3 makes them no-ops
  there anyway, so a read-only session and the pool's reset-on-return cost no trip.

Every SQLite call still runs on aiosqlite's worker thread, never on the event loop (a lock wait
on the loop would stall every other connection — and deadlock two pooled connections). The only
sqlite3 attribute read on the loop thread is `Connection.in_transaction`, which takes no lock.

A server-side cursor (`AsyncSession.stream()`) gets the same treatment: the whole result is
fetched with the statement, so streaming saves no memory.

On the loop itself (`on_the_loop()`): the hot, short transactions of the dispatcher and the
outbox sender skip even that one trip for every statement that cannot wait for a lock. In WAL
mode a read never waits for a writer, and once a transaction has written (holding SQLite's write
lock) its further statements and its COMMIT wait for nobody either (the WAL is copied back by
storage/sqlite_checkpoint.py, not by a commit). So only the first write of a transaction, which
may have to wait for another writer, still goes to the worker thread; everything else in such a
transaction runs on the loop in microseconds. Other code (jobs, console, purge) keeps the thread.

Plugged in through the public `create_async_engine(url, async_creator=...)` (see `create_engine`).
aiosqlite internals relied upon (aiosqlite 0.22.1, the version pinned in pyproject.toml; its own
`Cursor` uses the first two the same way): `Connection._execute(fn, *args)` queues a call on the
worker thread and awaits its result; `Connection._conn` is the sqlite3 connection;
`Connection._thread` is the worker thread (made a daemon, as SQLAlchemy does for aiosqlite);
`Connection._tx` is its queue of (future or None, call) and a call returning
`aiosqlite.core._STOP_RUNNING_SENTINEL` ends it (as aiosqlite's own stop() does).
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_Description = tuple[tuple[str, None, None, None, None, None, None], ...] | None
_Outcome = tuple[list[Any], _Description, int, int | None]

_on_the_loop = contextvars.ContextVar("sqlite_on_the_loop", default=False)


@contextlib.contextmanager
def on_the_loop() -> Iterator[None]:
    """Statements of this block that cannot wait for a lock run on the event loop (see above).

    For short transactions on indexed rows only: a long query here would stall every task."""
    token = _on_the_loop.set(True)
    try:
        yield
    finally:
        _on_the_loop.reset(token)


def _run(connection: sqlite3.Connection, how: str, sql: str, parameters: Any,
         row_factory: Callable[..., Any] | None) -> _Outcome:
    """On the worker thread: one statement (execute, executemany or executescript) and all its rows."""
    cursor = connection.cursor()
    try:
        if row_factory is not None:
            cursor.row_factory = row_factory
        if how == "execute":
            cursor.execute(sql, parameters)
        elif how == "executemany":
            cursor.executemany(sql, parameters)
        else:
            cursor.executescript(sql)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return rows, description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class Cursor(aiosqlite.Cursor):
    """aiosqlite.Cursor's interface over the rows of the last statement; only execute*() leave the loop."""

    def __init__(self, connection: Connection) -> None:
        # No super().__init__(): there is no sqlite3 cursor to wrap; each execute*() uses its own
        # on the worker thread.
        self._conn = connection
        self._cursor = None
        self.iter_chunk_size = connection._iter_chunk_size
        self._arraysize = 1
        self._row_factory: Callable[..., Any] | None = None
        self._rows: list[Any] = []
        self._next = 0
        self._description: _Description = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    def __await__(self) -> Generator[Any, None, Cursor]:
        """`await connection.cursor()` works as with aiosqlite (as does `async with`)."""
        return self._itself().__await__()

    async def _itself(self) -> Cursor:
        return self

    async def _statement(self, how: str, sql: str, parameters: Any) -> Cursor:
        self._rows, self._next, self._description, self._rowcount = [], 0, None, -1
        if how != "executescript" and self._conn._may_run_here(sql):
            outcome = _run(self._conn._conn, how, sql, parameters, self._row_factory)
        else:
            outcome = await self._conn._execute(_run, self._conn._conn, how, sql, parameters, self._row_factory)
        self._rows, self._description, self._rowcount, self._lastrowid = outcome
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        return await self._statement("execute", sql, () if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        return await self._statement("executemany", sql, parameters)

    async def executescript(self, sql_script: str) -> Cursor:
        return await self._statement("executescript", sql_script, None)

    async def fetchone(self) -> Any | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        start = self._next
        self._next = min(len(self._rows), start + (self._arraysize if size is None else size))
        return self._rows[start:self._next]

    async def fetchall(self) -> list[Any]:
        rows = self._rows[self._next:] if self._next else self._rows
        self._rows, self._next = [], 0
        return rows

    async def close(self) -> None:
        self._rows, self._next = [], 0

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    @property
    def description(self) -> _Description:  # type: ignore[override]
        return self._description

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def row_factory(self) -> Callable[..., Any] | None:
        return self._row_factory

    @row_factory.setter
    def row_factory(self, factory: Callable[..., Any] | None) -> None:
        self._row_factory = factory

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn._conn


class Connection(aiosqlite.Connection):
    """aiosqlite.Connection whose cursors cost one worker-thread hop per statement."""

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    # Set by connect(): only in WAL mode do reads and a writer's statements never wait; and only
    # without automatic checkpoints does a COMMIT never copy the log back (an fsync) on the loop.
    wal = False
    autocheckpoint = True

    def _idle(self) -> bool:
        """Open and outside a transaction: sqlite3's commit() and rollback() would do nothing."""
        return self._connection is not None and not self._connection.in_transaction

    def _may_run_here(self, sql: str = "") -> bool:
        """Whether this statement can run on the loop: it cannot wait for a lock (see the docstring)."""
        if not (self.wal and _on_the_loop.get() and self._connection is not None):
            return False
        # sqlite3 opens a transaction at the first INSERT/UPDATE/DELETE/REPLACE: from then on we write.
        return self._connection.in_transaction or sql.lstrip()[:6].upper() == "SELECT"

    def stop(self) -> None:  # type: ignore[override]
        """Close and end the worker thread, without a future for it to complete.

        SQLAlchemy calls this to terminate a connection it cannot reset (a task cancelled in the
        middle of a statement, at shutdown) and does not wait for it. aiosqlite's own stop() hands
        the thread a future of the running loop; when the loop is closed before the thread gets to
        it, completing that future raises in the thread ("Event loop is closed")."""
        self._running = False

        def close_and_stop() -> object:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            return aiosqlite.core._STOP_RUNNING_SENTINEL

        self._tx.put_nowait((None, close_and_stop))

    async def commit(self) -> None:
        if self._idle():
            return
        if self._may_run_here() and not self.autocheckpoint:
            self._connection.commit()
        else:
            await super().commit()

    async def rollback(self) -> None:
        if self._idle():
            return
        if self._may_run_here():
            self._connection.rollback()
        else:
            await super().rollback()


def connect(database: str, *, pragmas: Sequence[str] = (), **kwargs: Any) -> Connection:
    """Like aiosqlite.connect(); `pragmas` run on the worker thread right after sqlite3.connect()."""

    def connector() -> sqlite3.Connection:
        # Used from the worker thread and, in on_the_loop() blocks, from the loop thread: never
        # both at once (each call is awaited before the next; SQLAlchemy holds a mutex per connection).
        connection = sqlite3.connect(database, **{**kwargs, "check_same_thread": False})
        try:
            for pragma in pragmas:
                connection.execute(pragma).close()
            journal = connection.execute("PRAGMA journal_mode").fetchone()
            autocheckpoint = connection.execute("PRAGMA wal_autocheckpoint").fetchone()
        except BaseException:
            connection.close()
            raise
        wrapper.wal = bool(journal) and str(journal[0]).lower() == "wal"
        wrapper.autocheckpoint = not autocheckpoint or autocheckpoint[0] != 0
        return connection

    wrapper = Connection(connector, iter_chunk_size=64)
    wrapper._thread.daemon = True  # as SQLAlchemy's aiosqlite dialect does: never block exit
    return wrapper


def create_engine(url: str, *, pragmas: Sequence[str] = (), timeout: float = 5.0, **engine_kw: Any) -> AsyncEngine:
    """create_async_engine() for a sqlite+aiosqlite URL, with one-hop connections.

    The URL is turned into sqlite3.connect() arguments by the dialect itself (file, `:memory:`,
    `?uri=true`, `check_same_thread`), as without `async_creator`."""
    connect_args: tuple[list[Any], dict[str, Any]] | None = None

    async def creator() -> Connection:
        nonlocal connect_args
        if connect_args is None:
            connect_args = engine.sync_engine.dialect.create_connect_args(engine.sync_engine.url)
        args, kwargs = connect_args
        return await connect(*args, pragmas=pragmas, timeout=timeout, **kwargs)

    if make_url(url).get_driver_name() != "aiosqlite":
        raise ValueError(f"not a sqlite+aiosqlite URL: {url}")
    engine = create_async_engine(url, async_creator=creator, **engine_kw)
    return engine
