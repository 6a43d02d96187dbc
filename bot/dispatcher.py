"""One entry point for every incoming message: store it and process it, exactly once.

Messages that arrive together are handled in small batches. A batch is stored in the inbox by the
transaction that processes it, as its first statement: the messages commit together with every
ticket, reply and alert they cause, or not at all, so a crash cannot leave one processed but not
stored, nor stored without its effects. Messages that arrive meanwhile wait for the next batch.
If a batch fails, it is rolled back, stored on its own, and processed again one message at a time
so that one bad message cannot hold up the others (a message that keeps failing stays in the inbox).
If the database is unreachable the messages wait in memory and in a spool file, and are written
when it is back.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import IncomingMessage, utcnow
from bot.nlp.classifier import Classifier
from bot.outbox import OutboxSender
from bot.router import Context, Router
from bot.services import intake
from bot.services.roster import Roster
from bot.spool import Spool, is_database_down, sanitize
from bot.tasks import cancel_and_wait
from storage import directory, inbox, outbox
from storage.models import Group, Person
from storage.sqlite_driver import on_the_loop
from storage.tickets import OpenTickets, TicketNumbers

log = logging.getLogger(__name__)

# A message that keeps failing is set aside after this many tries (it stays in the inbox).
MAX_ATTEMPTS = 5
BATCH = 100
RETRY_MAX_SECONDS = 30


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        classifier: Classifier,
        routers: list[Router],
        sender: OutboxSender,
        clock: Callable[[], datetime] = utcnow,
        spool: Spool | None = None,
    ):
        self.sessions = sessions
        self.settings = settings
        self.classifier = classifier
        self.routers = routers
        self.sender = sender  # told when messages are owed; takes some right after the commit
        self.clock = clock  # tests freeze it
        self.spool = spool
        self._pending: collections.deque[tuple[IncomingMessage, asyncio.Future]] = collections.deque()
        self._worker: asyncio.Task | None = None
        self._spooled: set[str] = set()  # ids already written to the spool during this outage
        self._ignored_rooms: set[str] = set()
        # One batch at a time in this process (SQLite has no row locks; PostgreSQL also uses SKIP LOCKED).
        self._processing = asyncio.Lock()
        # People seen recently, by chat id (read-only copies; a changed name or role is looked up again).
        self._people: dict[str, Person] = {}
        self._groups: dict[str, Group | None] = {}  # groups come from the config: they do not change while running
        self.roster = Roster()
        self.ticket_numbers = TicketNumbers()  # PostgreSQL: a batch's numbers in one round trip
        self.processed = 0

    # -- entry points ---------------------------------------------------------------------
    async def feed(self, message: IncomingMessage) -> None:
        """Store the message and process it, once and in one transaction (see above); returns when done."""
        if not self._is_configured(message):
            return
        done = asyncio.get_running_loop().create_future()
        self._pending.append((sanitize(message), done))
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="dispatcher")
        await asyncio.shield(done)

    async def recover(self, min_age_seconds: float = 0) -> int:
        """Process messages stored (or spooled) before a crash but never finished; returns how many.

        While running, only rows older than `min_age_seconds` are taken, so the live worker keeps its own.
        """
        if self.spool is not None:
            spooled = self.spool.read()
            if spooled:
                await self._store(spooled)
                self.spool.clear()
        count, after = 0, 0
        before = self.clock() - timedelta(seconds=min_age_seconds) if min_age_seconds else None
        while True:
            async with self.sessions() as session:
                rows = await inbox.unprocessed(session, received_before=before, after_id=after)
                pending = [inbox.from_payload(r.payload) for r in rows]
            if not pending:
                return count
            after = rows[-1].id  # a message that fails again stays for the next round, not this loop
            await self._process_batch(pending)
            count += len(pending)

    async def close(self) -> None:
        await cancel_and_wait(self._worker)
        self._worker = None

    # -- the worker ------------------------------------------------------------------------
    async def _work(self) -> None:
        delay = 0.5
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            messages = [m for m, _ in batch]
            try:
                await self._process_batch(messages, new=True)
            except Exception as exc:
                if not is_database_down(exc):
                    log.exception("could not store %d messages; dropped", len(messages))
                else:
                    # Keep them (in order) and on disk, and try again: the bot keeps receiving meanwhile.
                    self._pending.extendleft(reversed(batch))
                    if self.spool is not None:
                        self.spool.add([m for m in messages if m.message_id not in self._spooled])
                        self._spooled.update(m.message_id for m in messages)
                    log.warning("database unavailable (%s); %d messages waiting, retrying in %.0f s",
                                type(exc).__name__, len(self._pending), delay)
                    await asyncio.sleep(delay)
                    delay = min(RETRY_MAX_SECONDS, delay * 2)
                    continue
            else:
                delay = 0.5
                self._stored()
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
        self._worker = None  # no await since the loop test: a new feed() starts a new worker

    def _stored(self) -> None:
        """Everything waiting is in the inbox now: the spool of an outage is no longer needed."""
        if self._spooled and not self._pending:
            self.spool.clear()
            self._spooled.clear()

    async def _store(self, messages: list[IncomingMessage]) -> None:
        with on_the_loop():  # SQLite: short and indexed, see storage/sqlite_driver.py
            async with self.sessions.begin() as session:
                await inbox.store_many(session, messages, self.clock())

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

    # -- processing --------------------------------------------------------------------------
    async def _process_batch(self, messages: list[IncomingMessage], *, new: bool = False) -> None:
        """Process a batch in one transaction, storing it in that transaction first when it is `new`.

        If that fails, the batch is processed again one message at a time (new messages are stored on
        their own before that). Raises only if new messages could not be stored (database down: the
        caller keeps them and retries); messages stored earlier stay in the inbox for the recovery job.
        """
        async with self._processing:
            try:
                queued = await self._process_together(messages, new=new)
            except Exception as exc:
                self._forget()
                if is_database_down(exc):
                    if new:
                        raise
                    log.warning("database unavailable while processing; the inbox keeps the messages")
                    return
                log.warning("a batch of %d failed (%r); processing one by one", len(messages), exc)
                if new:
                    await self._store(messages)
                queued = await self._one_at_a_time(messages)
            if queued:
                self.sender.wake()

    async def _process_together(self, messages: list[IncomingMessage], *, new: bool = False) -> bool:
        """Process in one transaction (storing the messages in it first when they are `new`).
        Returns whether rows were queued for the sender to find in the table."""
        now = self.clock()
        owed = outbox.Batch()
        with on_the_loop():  # SQLite: short and indexed, see storage/sqlite_driver.py
            written = await self._process_in_transaction(messages, new, now, owed)
        if written.ready:
            self.sender.hand_over(written.ready)
        return written.waiting > 0

    async def _process_in_transaction(self, messages: list[IncomingMessage], new: bool, now: datetime,
                                      owed: outbox.Batch) -> outbox.Written:
        async with self.sessions.begin() as session:
            todo = await (inbox.store_for_processing(session, messages, now) if new
                          else inbox.take_for_processing(session, [m.message_id for m in messages], now))
            cache = _Lookups(session, self._people, self._groups, self.roster)
            # The open tickets of the batch's resident groups: read once, on its first report.
            groups, from_residents = await cache.resident_groups(messages)
            open_now = intake.open_tickets(session, self.settings, now, groups, self.ticket_numbers,
                                           reports_at_most=from_residents)
            done: list[str] = []
            for message in messages:
                if message.message_id not in todo or message.message_id in done:
                    continue  # processed already, by us or another instance
                await self._handle(session, cache, message, now, owed, open_now)
                done.append(message.message_id)
            # What the batch owes, in one statement; replies that may go now skip the sender's queue.
            written = await owed.write(session, now, self.sender.take_now)
        self.processed += len(done)
        return written

    async def _one_at_a_time(self, messages: list[IncomingMessage]) -> bool:
        """After a failed batch (stored by now): each message in a transaction of its own."""
        queued = False
        for message in messages:
            queued |= await self._process_alone(message)
        return queued

    async def _process_alone(self, message: IncomingMessage) -> bool:
        try:
            return await self._process_together([message])
        except Exception as exc:
            self._forget()
            log.exception("failed to process message %s", message.message_id)
            if is_database_down(exc):
                return False
            try:
                async with self.sessions.begin() as session:
                    await inbox.record_failure(session, message.message_id, max_attempts=MAX_ATTEMPTS)
            except Exception:
                log.exception("could not record the failure of %s", message.message_id)
            return False

    def _forget(self) -> None:
        """After a rollback: cached rows may not exist (new people) or may be expired (loaded in it)."""
        self._people.clear()
        self._groups.clear()
        self.roster.forget()

    async def _handle(self, session: AsyncSession, cache: "_Lookups", message: IncomingMessage,
                      now: datetime, owed: outbox.Batch, open_now: OpenTickets) -> None:
        ctx = Context(message=message, session=session, settings=self.settings, classifier=self.classifier,
                      now=now, outbox_batch=owed, roster=self.roster, open_tickets=open_now)
        if message.room_topic is not None:
            ctx.group = await cache.group(message.room_topic)
        # Staff are recognised by name only where only staff are: the staff group.
        ctx.sender = await cache.person(message, staff_group=ctx.group is not None and ctx.group.role == "staff")
        for router in self.routers:
            for route in router.routes:
                if route.matches(ctx):
                    await route.handler(ctx)
                    return


class _Lookups:
    """Groups and people kept across batches (read-only copies; they rarely change)."""

    MAX_PEOPLE = 10_000

    def __init__(self, session: AsyncSession, people: dict[str, Person], groups: dict[str, Group | None],
                 roster: Roster):
        self.session = session
        self._groups = groups
        self._people = people
        self._roster = roster

    async def group(self, topic: str) -> Group | None:
        if topic not in self._groups:
            self._groups[topic] = await directory.group_by_topic(self.session, topic)
        return self._groups[topic]

    async def resident_groups(self, messages: list[IncomingMessage]) -> tuple[set[int], int]:
        """The resident groups these messages come from, and how many of the messages do."""
        ids, count = set(), 0
        for message in messages:
            group = await self.group(message.room_topic) if message.room_topic is not None else None
            if group is not None and group.role == "residents":
                ids.add(group.id)
                count += 1
        return ids, count

    async def person(self, message: IncomingMessage, *, staff_group: bool) -> Person:
        person = self._people.get(message.talker_id)
        stale = person is None or (staff_group and person.role == "resident") or (
            person.role == "resident" and message.talker_name and person.name != message.talker_name)
        if stale:
            person = await directory.person_for_chat(self.session, message.talker_id, message.talker_name,
                                                     match_staff_by_name=staff_group)
            if len(self._people) >= self.MAX_PEOPLE:
                self._people.clear()
            self._people[message.talker_id] = person
            self._roster.notice(person)  # a staff member's chat identity may just have been bound
        return person
