"""The staff, kept in memory: every new ticket asks who may take it and whose turn it is.

Staff, their roles and grids come from the config (written at start), so one load serves many
tickets. It is loaded again after REFRESH_SECONDS, or at once when a staff member's chat identity
changes (bound on first speaking in the staff group), so another instance's changes show soon too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, StaffGrid, Ticket

REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class StaffMember:
    id: int
    name: str
    chat_id: str | None
    role: str  # grid_worker | supervisor
    grids: frozenset[str]


class Roster:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._loaded_at: float | None = None
        self._staff: dict[int, StaffMember] = {}
        # Round robin: the newest ticket each member was given (survives restarts: read from tickets).
        self._last_ticket: dict[int, int] = {}

    async def _fresh(self, session: AsyncSession) -> None:
        if self._loaded_at is not None and self.clock() - self._loaded_at < REFRESH_SECONDS:
            return
        rows = (await session.execute(
            select(Person.id, Person.name, Person.chat_id, Person.role, StaffGrid.grid_id)
            .outerjoin(StaffGrid, StaffGrid.person_id == Person.id)
            .where(Person.role != "resident")
            .order_by(Person.id)
        )).all()
        grids: dict[int, set[str]] = {}
        first: dict[int, tuple] = {}
        for person_id, name, chat_id, role, grid_id in rows:
            first.setdefault(person_id, (name, chat_id, role))
            if grid_id is not None:
                grids.setdefault(person_id, set()).add(grid_id)
        self._staff = {pid: StaffMember(pid, name, chat_id, role, frozenset(grids.get(pid, ())))
                       for pid, (name, chat_id, role) in first.items()}
        self._last_ticket = dict((await session.execute(
            select(Ticket.assignee_id, func.max(Ticket.id))
            .where(Ticket.assignee_id.in_(list(self._staff)))
            .group_by(Ticket.assignee_id)
        )).all()) if self._staff else {}
        self._loaded_at = self.clock()

    def forget(self) -> None:
        """Load again before the next use."""
        self._loaded_at = None

    def notice(self, person: Person) -> None:
        """A staff member seen speaking: if their chat identity is new to us, load again."""
        known = self._staff.get(person.id)
        if self._loaded_at is not None and person.role != "resident" and (
                known is None or known.chat_id != person.chat_id):
            self.forget()

    async def member(self, session: AsyncSession, person_id: int | None) -> StaffMember | None:
        if person_id is None:
            return None
        await self._fresh(session)
        return self._staff.get(person_id)

    async def grid_workers(self, session: AsyncSession, grid_id: str | None) -> list[StaffMember]:
        await self._fresh(session)
        return [m for m in self._staff.values() if m.role == "grid_worker" and grid_id in m.grids]

    async def named(self, session: AsyncSession, names: Iterable[str]) -> list[StaffMember]:
        await self._fresh(session)
        wanted = set(names)
        return [m for m in self._staff.values() if m.name in wanted]

    async def supervisors(self, session: AsyncSession) -> list[StaffMember]:
        await self._fresh(session)
        return [m for m in self._staff.values() if m.role == "supervisor"]

    def next_in_turn(self, people: list[StaffMember]) -> StaffMember | None:
        """Whoever was given a ticket longest ago (or never); call assigned() once the ticket exists."""
        if not people:
            return None
        return min(people, key=lambda p: (self._last_ticket.get(p.id, 0), p.id))

    def assigned(self, person_id: int, ticket_id: int) -> None:
        self._last_ticket[person_id] = max(ticket_id, self._last_ticket.get(person_id, 0))
