"""One entry point for every incoming message: store it, then process it exactly once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import IncomingMessage, utcnow
from bot.nlp.classifier import Classifier
from bot.router import Context, Router
from storage import directory, inbox

log = logging.getLogger(__name__)

# A message that keeps failing is set aside after this many tries (it stays in the inbox).
MAX_ATTEMPTS = 5


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        classifier: Classifier,
        routers: list[Router],
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.sessions = sessions
        self.settings = settings
        self.classifier = classifier
        self.routers = routers
        self.on_queued = on_queued  # wakes the outbox sender
        self.clock = clock  # tests freeze it
        self._lock = asyncio.Lock()
        self._ignored_rooms: set[str] = set()

    async def feed(self, message: IncomingMessage) -> None:
        """Store the message (so a crash cannot lose it), then process it once."""
        if not self._is_configured(message):
            return
        now = self.clock()
        async with self.sessions.begin() as session:
            await inbox.store(session, message, now)
        await self._process(message)

    async def recover(self) -> int:
        """Process messages stored before a crash but never finished; returns how many."""
        count = 0
        while True:
            async with self.sessions() as session:
                rows = await inbox.unprocessed(session)
                pending = [inbox.from_payload(r.payload) for r in rows]
            if not pending:
                return count
            for message in pending:
                await self._process(message)
                count += 1

    def _is_configured(self, message: IncomingMessage) -> bool:
        if not message.is_group:
            return True  # direct messages are for handlers to judge
        if self.settings.group_by_topic(message.room_topic) is not None:
            return True
        key = message.room_id or ""
        if key not in self._ignored_rooms:
            self._ignored_rooms.add(key)
            log.info("ignoring messages from unconfigured group %r (%s)", message.room_topic, message.room_id)
        return False

    async def _process(self, message: IncomingMessage) -> None:
        async with self._lock:
            try:
                queued = await self._process_once(message)
            except Exception:
                log.exception("failed to process message %s", message.message_id)
                async with self.sessions.begin() as session:
                    await inbox.record_failure(session, message.message_id, max_attempts=MAX_ATTEMPTS)
                return
        if queued:
            self.on_queued()

    async def _process_once(self, message: IncomingMessage) -> bool:
        """Run the handlers and mark the message processed in one transaction."""
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await inbox.claim_for_processing(session, message.message_id)
            if row is None:
                return False  # processed already (or by another instance)
            ctx = Context(message=message, session=session, settings=self.settings,
                          classifier=self.classifier, now=now)
            if message.room_topic is not None:
                ctx.group = await directory.group_by_topic(session, message.room_topic)
            # Staff are recognised by name only where only staff are: the staff group.
            ctx.sender = await directory.person_for_chat(
                session, message.talker_id, message.talker_name,
                match_staff_by_name=ctx.group is not None and ctx.group.role == "staff")
            await self._run_handlers(ctx)
            await inbox.mark_processed(session, row, now)
            return bool(ctx.notify.queued)

    async def _run_handlers(self, ctx: Context) -> None:
        for router in self.routers:
            for route in router.routes:
                if route.matches(ctx):
                    await route.handler(ctx)
                    return
