"""Who gets a new ticket: a team for its categories, else the group's grid workers, in turn."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import directory
from storage.models import Group, Person, Ticket


async def candidates(session: AsyncSession, settings: Settings, group: Group, category: str) -> tuple[list[Person], str | None]:
    team = settings.team_for(category)
    if team is not None and team.members:
        people = await directory.staff_by_names(session, team.members)
        if people:
            return people, team.name
    return await directory.grid_workers(session, group.grid_id), None


async def next_in_turn(session: AsyncSession, people: list[Person]) -> Person | None:
    """Round robin that survives restarts: whoever was given a ticket longest ago (or never)."""
    if not people:
        return None
    last = dict((await session.execute(
        select(Ticket.assignee_id, func.max(Ticket.id))
        .where(Ticket.assignee_id.in_([p.id for p in people]))
        .group_by(Ticket.assignee_id)
    )).all())
    return min(people, key=lambda p: (last.get(p.id, 0), p.id))


async def route(session: AsyncSession, settings: Settings, group: Group, category: str) -> tuple[Person | None, str | None]:
    people, team = await candidates(session, settings, group, category)
    return await next_in_turn(session, people), team
