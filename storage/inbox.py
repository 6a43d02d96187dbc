"""Incoming messages, stored no later than their effects, so that a crash loses none and repeats none."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import IncomingMessage
from storage.models import InboxMessage
from storage.sql import dialect_insert, insert_ignore


_FIELDS = tuple(f.name for f in dataclasses.fields(IncomingMessage))


def to_payload(message: IncomingMessage) -> dict:
    # The fields are flat values: no need for dataclasses.asdict's deep copy (a hot path in a flood).
    data = {name: getattr(message, name) for name in _FIELDS}
    data["time"] = message.time.isoformat()
    data["mention_ids"] = list(message.mention_ids)
    return data


def from_payload(data: dict) -> IncomingMessage:
    values = dict(data)
    values["time"] = datetime.fromisoformat(values["time"])
    values["mention_ids"] = tuple(values.get("mention_ids") or ())
    return IncomingMessage(**{k: v for k, v in values.items() if k in _FIELDS})


def _row(message: IncomingMessage, now: datetime, *, processed: bool = False) -> dict:
    """The inbox row of a message: waiting (`received`), or processed by the transaction inserting it."""
    row = {"message_id": message.message_id, "payload": to_payload(message), "attempts": 0, "received_at": now,
           "status": "processed" if processed else "received"}
    if processed:
        row["processed_at"] = now
    return row


def _insert_new(session: AsyncSession):
    """INSERT of inbox rows that leaves ids seen before alone. The Table, not the ORM class: a plain
    executemany, without the ORM's bulk-insert bookkeeping."""
    return dialect_insert(session, InboxMessage.__table__).on_conflict_do_nothing(index_elements=["message_id"])


async def store(session: AsyncSession, message: IncomingMessage, now: datetime) -> bool:
    """Record the message; False when this message id was seen before."""
    return await insert_ignore(session, InboxMessage, _row(message, now), ["message_id"])


async def store_many(session: AsyncSession, messages: list[IncomingMessage], now: datetime) -> None:
    """Record a batch in one statement; ids seen before are left alone."""
    if not messages:
        return
    await session.execute(_insert_new(session), [_row(m, now) for m in messages])


async def store_for_processing(session: AsyncSession, messages: list[IncomingMessage], now: datetime) -> set[str]:
    """Inside the processing transaction: record new messages as processed; returns the ids that were new.

    The rows commit with what their processing wrote, or not at all (then the dispatcher stores them
    on their own). An id seen before (a repeat from the gateway, or a message stored earlier and
    waiting for recovery) is left alone and not returned. One statement for the batch.
    """
    if not messages:
        return set()
    statement = _insert_new(session).returning(InboxMessage.__table__.c.message_id)
    result = await session.execute(statement, [_row(m, now, processed=True) for m in messages])
    return set(result.scalars().all())


async def take_for_processing(session: AsyncSession, message_ids: list[str], now: datetime) -> set[str]:
    """Inside the processing transaction: mark these processed and return which were still waiting.

    One statement instead of a select and an update; if the transaction rolls back they wait again.
    On PostgreSQL a second instance's UPDATE waits for ours and then finds nothing left to take.
    """
    inbox = InboxMessage.__table__  # the Table's columns, not the ORM's: nothing loaded to keep in step
    result = await session.execute(
        update(inbox)
        .where(inbox.c.message_id.in_(message_ids), inbox.c.status == "received")
        .values(status="processed", processed_at=now)
        .returning(inbox.c.message_id)
    )
    return set(result.scalars().all())


async def purge_processed(session: AsyncSession, before: datetime) -> int:
    """Messages are kept only as long as de-duplication needs them (tickets keep their own text)."""
    result = await session.execute(delete(InboxMessage).where(InboxMessage.status == "processed",
                                                              InboxMessage.received_at < before))
    return result.rowcount or 0


async def record_failure(session: AsyncSession, message_id: str, *, max_attempts: int) -> None:
    """Count a failed try; after max_attempts the message is set aside as failed (kept for staff)."""
    row = await session.scalar(select(InboxMessage).where(InboxMessage.message_id == message_id))
    if row is not None:
        row.attempts += 1
        row.status = "failed" if row.attempts >= max_attempts else "received"


async def unprocessed(session: AsyncSession, limit: int = 500, received_before: datetime | None = None,
                      after_id: int = 0) -> list[InboxMessage]:
    query = select(InboxMessage).where(InboxMessage.status == "received", InboxMessage.id > after_id)
    if received_before is not None:
        query = query.where(InboxMessage.received_at < received_before)
    rows = await session.scalars(query.order_by(InboxMessage.id).limit(limit))
    return list(rows.all())
