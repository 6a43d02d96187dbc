"""Rows that nothing reads back at once, written in one statement per table when the transaction commits.

A flood turns into hundreds of small INSERTs (every new ticket writes three audit events); each
costs a round trip. Deferred rows are kept in the session and written together: before the
commit, or earlier as soon as a statement run through the session names their table (selected,
joined, in a subquery, or updated) or a table that refers to it, so a read in the same
transaction still sees them and a new row finds its parent. Tables are written parents first.
A rollback drops them with everything else.
"""

from __future__ import annotations

import weakref

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables

_KEY = "deferred_rows"


def defer(session: AsyncSession, table: Table, row: dict) -> None:
    """Queue an INSERT of `row` into `table` for this transaction (rows of one table keep their order)."""
    session.sync_session.info.setdefault(_KEY, {}).setdefault(table, []).append(row)


async def write(session: AsyncSession, table: Table) -> None:
    """Write the table's deferred rows now (before an insert that must come after them), and
    those of the tables it refers to."""
    await session.run_sync(_write, _with_parents({table}))


def _write(session: Session, tables: set[Table] | None = None) -> None:
    pending: dict[Table, list[dict]] = session.info.get(_KEY) or {}
    # Parents first (a deferred ticket before its deferred events), whatever order they came in.
    for table in sorted((t for t in pending if tables is None or t in tables), key=_dependency_rank):
        rows = pending.pop(table)  # popped first: the INSERT below must not write them again
        session.execute(insert(table), rows)


_ranks: dict[Table, int] = {}  # position in the metadata's dependency order (sorting it is not free)


def _dependency_rank(table: Table) -> int:
    if table not in _ranks:
        _ranks.update((t, rank) for rank, t in enumerate(table.metadata.sorted_tables))
    return _ranks[table]


def _with_parents(tables: set[Table] | frozenset[Table]) -> frozenset[Table]:
    """The tables and those their foreign keys point to: a row written there needs its parent row."""
    return frozenset(tables) | {fk.column.table for table in tables for fk in table.foreign_keys}


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Sync listeners of an AsyncSession run inside its greenlet, where execute() may be called.
    _write(session)


# Tables a statement reads, by statement: the hot queries are built once, so this is worked out once.
_tables_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    pending = state.session.info.get(_KEY)
    if pending:
        tables = _tables_of.get(state.statement)
        if tables is None:
            tables = _tables_of[state.statement] = _tables_in(state.statement)
        touched = tables & pending.keys()
        if touched:
            _write(state.session, set(touched))


def _tables_in(statement) -> frozenset[Table]:
    """Every table a statement names (selected, joined, in a subquery or changed), and the tables
    those refer to: an INSERT of an attachment needs its deferred ticket written first."""
    return _with_parents({t for t in find_tables(statement, check_columns=True, include_joins=True, include_crud=True)
                          if isinstance(t, Table)})


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    # The unit of work inserts new objects: the deferred rows they refer to must be there first.
    pending = session.info.get(_KEY)
    if pending and session.new:
        needed = _with_parents({type(obj).__table__ for obj in session.new}) & pending.keys()
        if needed:
            _write(session, set(needed))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
