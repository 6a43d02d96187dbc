"""Grids, groups and people: kept in step with config.toml, residents added as they speak."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.models import Grid, Group, Person, StaffGrid


async def sync_config(session: AsyncSession, settings: Settings) -> None:
    """Make grids, groups and staff in the database match the config (rows are never deleted)."""
    for grid in settings.grids:
        row = await session.get(Grid, grid.id)
        if row is None:
            session.add(Grid(id=grid.id, name=grid.name))
        else:
            row.name = grid.name
    await session.flush()

    existing = {g.topic: g for g in (await session.scalars(select(Group))).all()}
    configured = set()
    for group in settings.groups:
        configured.add(group.topic)
        row = existing.get(group.topic)
        if row is None:
            session.add(Group(topic=group.topic, role=group.role, grid_id=group.grid, room_id=group.room_id))
        else:
            row.role, row.grid_id, row.active = group.role, group.grid, True
            if group.room_id:
                row.room_id = group.room_id
    for topic, row in existing.items():
        if topic not in configured:
            row.active = False  # old tickets keep pointing at it

    for member in settings.staff:
        row = await _staff_row(session, member.name, member.wechat_id)
        if row is None:
            row = Person(name=member.name, chat_id=member.wechat_id, role=member.role)
            session.add(row)
        else:
            row.role = member.role
            if member.wechat_id:
                row.chat_id = member.wechat_id
        await session.flush()
        await session.execute(delete(StaffGrid).where(StaffGrid.person_id == row.id))
        for grid_id in member.grids:
            session.add(StaffGrid(person_id=row.id, grid_id=grid_id))
    await session.flush()


async def _staff_row(session: AsyncSession, name: str, wechat_id: str | None) -> Person | None:
    if wechat_id:
        row = await session.scalar(select(Person).where(Person.chat_id == wechat_id))
        if row is not None:
            return row
    return await session.scalar(
        select(Person).where(Person.name == name, Person.role != "resident").order_by(Person.id).limit(1)
    )


async def group_by_topic(session: AsyncSession, topic: str) -> Group | None:
    return await session.scalar(select(Group).where(Group.topic == topic, Group.active.is_(True)))


async def person_for_chat(session: AsyncSession, chat_id: str, name: str, *,
                          match_staff_by_name: bool = False) -> Person:
    """The person behind a chat identity.

    A configured staff member without a wechat_id is bound to the first chat identity that speaks
    under their name in the staff group (never in a resident group, where anyone can pick a name).
    """
    row = await session.scalar(select(Person).where(Person.chat_id == chat_id))
    if row is not None:
        if name and row.name != name and row.role == "resident":
            row.name = name  # residents rename themselves; keep what others see
        return row
    if match_staff_by_name:
        staff = await session.scalar(
            select(Person).where(Person.name == name, Person.role != "resident", Person.chat_id.is_(None)).limit(1)
        )
        if staff is not None:
            staff.chat_id = chat_id
            return staff
    row = Person(chat_id=chat_id, name=name or chat_id, role="resident")
    session.add(row)
    await session.flush()
    return row


async def supervisors(session: AsyncSession) -> list[Person]:
    rows = await session.scalars(select(Person).where(Person.role == "supervisor").order_by(Person.id))
    return list(rows.all())


async def staff_named(session: AsyncSession, name: str) -> Person | None:
    return await session.scalar(
        select(Person).where(Person.name == name, Person.role != "resident").order_by(Person.id).limit(1)
    )
