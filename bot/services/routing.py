"""Who gets a new ticket: a team for its categories, else the group's grid workers, in turn."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.roster import Roster, StaffMember
from storage.models import Group


async def candidates(session: AsyncSession, roster: Roster, settings: Settings, group: Group,
                     category: str) -> tuple[list[StaffMember], str | None]:
    team = settings.team_for(category)
    if team is not None and team.members:
        people = await roster.named(session, team.members)
        if people:
            return people, team.name
    return await roster.grid_workers(session, group.grid_id), None


async def route(session: AsyncSession, roster: Roster, settings: Settings, group: Group,
                category: str) -> tuple[StaffMember | None, str | None]:
    """The assignee (round robin that survives restarts) and the team, if a team takes this category."""
    people, team = await candidates(session, roster, settings, group, category)
    return roster.next_in_turn(people), team
