"""Scheduled jobs: plain async functions with stable ids, run every N seconds or on a cron line."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.events import utcnow
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

JobFunc = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    id: str
    run: JobFunc
    every: float | None = None  # seconds
    cron: str | None = None  # in the community's time zone, e.g. "0 9 * * 1"

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        if self.cron:
            return croniter(self.cron, moment.astimezone(tz)).get_next(datetime).astimezone(moment.tzinfo)
        return moment + timedelta(seconds=self.every or 60)


class Scheduler:
    def __init__(self, tz: ZoneInfo, clock: Callable[[], datetime] = utcnow):
        self.tz = tz
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._task: asyncio.Task | None = None

    def add(self, job: Job) -> None:
        if job.id in self.jobs:
            raise ValueError(f"duplicate job id {job.id!r}")
        self.jobs[job.id] = job

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        now = self.clock()
        # Interval jobs run once at start (catching up after downtime); cron jobs wait for their slot.
        upcoming = {job.id: (now if job.every else job.next_after(now, self.tz)) for job in self.jobs.values()}
        while True:
            job_id = min(upcoming, key=upcoming.get) if upcoming else None
            if job_id is None:
                return
            delay = (upcoming[job_id] - self.clock()).total_seconds()
            if delay > 0:
                await asyncio.sleep(min(delay, 60))  # re-check: the wall clock may jump
                continue
            job = self.jobs[job_id]
            try:
                await job.run(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled job %s failed", job_id)
            upcoming[job_id] = job.next_after(self.clock(), self.tz)
