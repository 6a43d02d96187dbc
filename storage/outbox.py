"""The persisted outbox: queue, claim (safe across processes), mark sent or retry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, NamedTuple

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Outgoing
from storage.models import OutboxMessage
from storage.sql import dialect_insert, insert_ignore

_TABLE = OutboxMessage.__table__

# A row claimed by a sender that then died is handed out again after this long.
CLAIM_LEASE = timedelta(minutes=2)


def outbox_row(key: str, message: Outgoing, *, now: datetime, channel: str = "chat", priority: int = 0,
               not_before: datetime | None = None, account: str = "default") -> dict:
    """The columns of one queued message (pending; `claimed` turns it into one this sender already holds)."""
    return {
        "dedupe_key": key,
        "room_topic": message.room_topic,
        "room_id": message.room_id,
        "to_id": message.to_id,
        "text": message.text,
        "mention_ids": list(message.mention_ids),
        "mention_names": list(message.mention_names),
        "status": "pending",
        "channel": channel,
        "account": account,
        "priority": priority,
        "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before else now,
        "claimed_at": None,
        "last_error": "",
        "created_at": now,
    }


def claimed(row: dict, now: datetime) -> dict:
    """The same row, inserted as already claimed by the sender that will send it right after the commit."""
    return {**row, "status": "sending", "claimed_at": now, "attempts": 1}


async def enqueue(session: AsyncSession, key: str, message: Outgoing, *, now: datetime,
                  channel: str = "chat", priority: int = 0, not_before: datetime | None = None,
                  account: str = "default") -> bool:
    """Queue a message once per key; False when that key was queued before."""
    return await insert_row(session, outbox_row(key, message, now=now, channel=channel, priority=priority,
                                                not_before=not_before, account=account))


async def insert_row(session: AsyncSession, row: dict) -> bool:
    """Queue one row made by outbox_row; False when its key was queued before."""
    return await insert_ignore(session, OutboxMessage, row, ["dedupe_key"])


async def enqueue_many(session: AsyncSession, rows: list[dict]) -> dict[str, int]:
    """Queue several rows in one statement; returns {key: id} of those queued now (keys seen before are left)."""
    if not rows:
        return {}
    table = _TABLE
    statement = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(statement.returning(table.c.dedupe_key, table.c.id), rows)
    return {key: row_id for key, row_id in result.all()}


class Batch:
    """Messages owed by one processing transaction, written in one statement just before it commits."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}  # by key: the first one queued under a key wins, as in the table

    def add(self, row: dict) -> None:
        self.rows.setdefault(row["dedupe_key"], row)

    async def write(self, session: AsyncSession, now: datetime,
                    take_now: Callable[[dict], bool] = lambda row: False) -> Written:
        """Insert the rows; those `take_now` accepts go in as claimed (a key queued before stays as it was)."""
        rows = [claimed(row, now) if take_now(row) else row for row in self.rows.values()]
        self.rows.clear()
        ids = await enqueue_many(session, rows)
        ready = [(ids[row["dedupe_key"]], row) for row in rows
                 if row["status"] == "sending" and row["dedupe_key"] in ids]
        return Written(ready=ready, waiting=len(ids) - len(ready))


class Written(NamedTuple):
    ready: list[tuple[int, dict]]  # (id, row) inserted as claimed: to send right after the commit
    waiting: int  # rows inserted as pending: the sender must look at the table


def _claimable(now: datetime, c=OutboxMessage):
    """`c`: the ORM class, or the Table's columns (_TABLE.c) in statements that skip the ORM."""
    return or_(
        (c.status == "pending") & (c.next_attempt_at <= now),
        (c.status == "sending") & (c.claimed_at < now - CLAIM_LEASE),
    )


async def due(session: AsyncSession, now: datetime, limit: int = 200, account: str = "default") -> list[OutboxMessage]:
    rows = await session.scalars(
        select(OutboxMessage)
        .where(_claimable(now), OutboxMessage.account == account)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
        .limit(limit)
    )
    return list(rows.all())


async def claim(session: AsyncSession, row_id: int, now: datetime) -> bool:
    """Atomically take one row; only one sender (in any process) wins."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, _claimable(now))
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    return result.rowcount == 1


async def claim_many(session: AsyncSession, row_ids: list[int], now: datetime) -> set[int]:
    """Take several rows in one statement; returns the ids this sender won."""
    c = _TABLE.c  # the Table's columns: no ORM bookkeeping of rows this short session never loaded
    result = await session.execute(
        update(_TABLE)
        .where(c.id.in_(row_ids), _claimable(now, c))
        .values(status="sending", claimed_at=now, attempts=c.attempts + 1)
        .returning(c.id)
    )
    return set(result.scalars().all())


async def release_stale_claims(session: AsyncSession, account: str, before: datetime) -> int:
    """At start: rows this account's previous process claimed but never finished go back to pending."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.account == account, OutboxMessage.status == "sending", OutboxMessage.claimed_at < before)
        .values(status="pending", claimed_at=None, next_attempt_at=before)
    )
    return result.rowcount or 0


async def mark_sent_many(session: AsyncSession, row_ids: list[int], now: datetime) -> None:
    await session.execute(
        update(_TABLE).where(_TABLE.c.id.in_(row_ids)).values(status="sent", sent_at=now, last_error="")
    )


async def mark_sent(session: AsyncSession, row_id: int, now: datetime) -> None:
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id).values(status="sent", sent_at=now, last_error="")
    )


async def release(session: AsyncSession, row_id: int, *, retry_at: datetime, error: str, give_up: bool,
                  refund_attempt: bool = False) -> None:
    """Put a claimed row back (or mark it failed for good)."""
    values: dict = {
        "status": "failed" if give_up else "pending",
        "next_attempt_at": retry_at,
        "claimed_at": None,
        "last_error": error[:2000],
    }
    if refund_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


async def depth(session: AsyncSession, account: str | None = None) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
    if account is not None:
        query = query.where(OutboxMessage.account == account)
    return int(await session.scalar(query) or 0)
