"""The outbox sender: delivers queued messages, paced to WeChat's limits, retried after failures."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import OutboxSettings
from bot.events import Outgoing, utcnow
from bot.transports.base import Transport, TransportUnavailable
from bot.webhooks import WebhookClient, WebhookRejected, WebhookSettings, WebhookThrottled
from bot.tasks import cancel_and_wait
from storage import outbox
from storage.sqlite_driver import on_the_loop
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class Pacer:
    """At most one message per interval per conversation and N per minute per account."""

    def __init__(self, settings: OutboxSettings, clock=time.monotonic):
        self.interval = settings.per_group_interval_seconds
        self.per_minute = settings.per_account_per_minute
        self.clock = clock
        self._last_by_conversation: dict[str, float] = {}
        self._recent: collections.deque[float] = collections.deque()

    def wait_for(self, conversation: str) -> float:
        """Seconds until a message to this conversation may go (0 = now)."""
        now = self.clock()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        account_wait = 0.0
        if len(self._recent) >= self.per_minute:
            account_wait = 60 - (now - self._recent[0])
        last = self._last_by_conversation.get(conversation)
        group_wait = 0.0 if last is None else self.interval - (now - last)
        return max(0.0, account_wait, group_wait)

    def record(self, conversation: str) -> None:
        now = self.clock()
        self._last_by_conversation[conversation] = now
        self._recent.append(now)


def conversation_of(row: OutboxMessage) -> str:
    return conversation(row.room_topic, row.room_id, row.to_id)


def conversation(room_topic: str | None, room_id: str | None, to_id: str | None) -> str:
    return room_topic or room_id or f"direct:{to_id}"


def to_outgoing(row: OutboxMessage) -> Outgoing:
    return Outgoing(
        text=row.text,
        room_topic=row.room_topic,
        room_id=row.room_id,
        to_id=row.to_id,
        mention_ids=tuple(row.mention_ids or ()),
        mention_names=tuple(row.mention_names or ()),
    )


WEBHOOK_PREFIX = "webhook:"
WAVE = 50  # rows claimed and sent together


class OutboxSender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], transport: Transport, settings: OutboxSettings,
                 webhooks: dict[str, WebhookSettings] | None = None, webhook_client: WebhookClient | None = None,
                 clock=utcnow, account: str = "default"):
        self.sessions = sessions
        self.account = account
        self.clock = clock
        self.transport = transport
        self.settings = settings
        self.webhooks = webhooks or {}
        self.webhook_client = webhook_client
        self.pacer = Pacer(settings)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.sent_count = 0
        # The fast lane: rows a processing transaction queued as already ours, sent right after its commit.
        self._ready: collections.deque[SimpleNamespace] = collections.deque()  # rows as OutboxMessage has them
        self._backlog: set[str] = set()  # conversations with rows still waiting: nothing may overtake them
        self._caught_up = False  # until the first look at the table, older rows may be waiting anywhere
        self._look_at = 0.0  # when to look at the table next, on the pacer's clock (0: at once)
        self._look_again = False  # woken while looking: rows may have been queued after the query

    def wake(self) -> None:
        """Rows were queued: look at the table now (again, if a look is under way: it may miss them)."""
        self._look_at = 0.0
        self._look_again = True
        self._wake.set()

    def take_now(self, row: dict) -> bool:
        """May this row, about to be committed, skip the queue and go out right after the commit?

        Only when it could be sent now anyway: WeChat connected, nothing older waiting for that
        conversation, and the pace allows it (its place in the pace is reserved here).
        """
        if row["channel"] != "chat" or not self._caught_up or not self.transport.connected:
            return False
        if row["next_attempt_at"] > self.clock():
            return False
        target = conversation(row["room_topic"], row["room_id"], row["to_id"])
        if target in self._backlog or self.pacer.wait_for(target) > 0:
            return False
        self.pacer.record(target)
        return True

    def hand_over(self, rows: list[tuple[int, dict]]) -> None:
        """Rows claimed by take_now and committed: send them before anything else."""
        for row_id, values in rows:
            # The row's values as attributes, like the OutboxMessage rows _send_wave sends (an ORM
            # instance is not needed and costs more to make). attempts: as read before the claim.
            self._ready.append(SimpleNamespace(**{**values, "id": row_id, "attempts": values["attempts"] - 1}))
        self._wake.set()  # only these to send: no need to look at the table for them

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            # Cleared before the work, not after: a hand_over() or wake() while drain_once() awaits
            # the database must cut the sleep below short, not be lost until the next poll.
            self._wake.clear()
            try:
                delay = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sender error; retrying")
                delay = self.settings.poll_seconds
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        if self._ready:
            return
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, delay))
        except asyncio.TimeoutError:
            pass

    async def drain_once(self) -> float:
        """Send whatever may go now; return how long to sleep before looking again."""
        if self._ready:
            ready = list(self._ready)
            self._ready.clear()
            await self._send_rows(ready, {row.id for row in ready})
        now = self.pacer.clock()  # the pace's clock: paced rows are what the next look waits for
        if now < self._look_at:
            return self._look_at - now
        self._look_again = False
        async with self.sessions() as session:
            rows = await outbox.due(session, self.clock(), account=self.account)
        soonest = self.settings.poll_seconds
        busy: set[str] = set()
        wave: list[OutboxMessage] = []
        chat_up = self.transport.connected
        for row in rows:
            if row.channel.startswith(WEBHOOK_PREFIX):
                await self._send_webhook(row)  # robots work even while WeChat is down
                continue
            target = conversation_of(row)
            if not chat_up or len(wave) >= WAVE:
                busy.add(target)
                continue  # WeChat is down: these wait for the reconnect
            if target in busy:
                continue  # keep order within a conversation
            wait = self.pacer.wait_for(target)
            if wait > 0:
                busy.add(target)
                soonest = min(soonest, wait)
                continue  # another group may go meanwhile: one busy group cannot starve the rest
            self.pacer.record(target)  # reserve its place in the pace
            wave.append(row)
        self._backlog = busy
        self._caught_up = True
        if wave:
            await self._send_wave(wave)
        if self._look_again:
            self._look_at = 0.0
            return 0.0
        self._look_at = now + soonest
        return soonest

    async def _send_wave(self, wave: list[OutboxMessage]) -> None:
        """Claim the rows in one statement, send them in order, mark the sent ones in one statement."""
        with on_the_loop():  # SQLite: one short UPDATE by primary key, see storage/sqlite_driver.py
            async with self.sessions.begin() as session:
                mine = await outbox.claim_many(session, [row.id for row in wave], self.clock())
        await self._send_rows(wave, mine)

    async def _send_rows(self, wave: list[OutboxMessage], mine: set[int]) -> None:
        """Send the claimed rows of the wave in order, mark the sent ones in one statement."""
        sent: list[int] = []
        attempted: set[int] = set()
        try:
            for row in wave:
                if row.id not in mine:
                    continue  # another sender took it
                outcome = await self._send_claimed(row)
                if outcome != "down":
                    attempted.add(row.id)
                if outcome == "down":
                    break  # disconnected: the rest go back to pending below
                if outcome == "sent":
                    sent.append(row.id)
        finally:
            if sent:
                with on_the_loop():  # as in _send_wave
                    async with self.sessions.begin() as session:
                        await outbox.mark_sent_many(session, sent, self.clock())
            unsent = [row_id for row_id in mine if row_id not in attempted]
            self.sent_count += len(sent)
            if unsent:
                async with self.sessions.begin() as session:
                    for row_id in unsent:
                        await outbox.release(session, row_id, retry_at=self.clock(), error="transport unavailable",
                                             give_up=False, refund_attempt=True)

    async def _send_claimed(self, row: OutboxMessage) -> str:
        """Send one claimed row: "sent", "failed" (released for a retry later) or "down" (transport gone)."""
        try:
            await self.transport.send(to_outgoing(row))
        except TransportUnavailable as exc:
            log.warning("transport unavailable; outbox paused (%s)", exc)
            return "down"
        except Exception as exc:  # a bad message must not block the others
            attempts = row.attempts + 1
            give_up = attempts >= self.settings.max_attempts
            backoff = min(300.0, 2.0 ** attempts)
            async with self.sessions.begin() as session:
                await outbox.release(session, row.id, retry_at=self.clock() + timedelta(seconds=backoff),
                                     error=repr(exc), give_up=give_up)
            log.warning("send failed for outbox row %s (attempt %s): %r", row.id, attempts, exc)
            return "failed"
        return "sent"

    async def _send_webhook(self, row: OutboxMessage) -> None:
        """Deliver to a staff robot; throttling waits the robot's window, a rejection is final."""
        async with self.sessions.begin() as session:
            if not await outbox.claim(session, row.id, self.clock()):
                return
        name = row.channel[len(WEBHOOK_PREFIX):]
        target = self.webhooks.get(name)
        attempts = row.attempts + 1
        try:
            if target is None or self.webhook_client is None:
                raise WebhookRejected(f"no [[webhooks]] named {name!r}")
            await self.webhook_client.send(target, row.text)
        except WebhookThrottled as exc:
            retry_at = self.clock() + timedelta(seconds=exc.retry_after)
            async with self.sessions.begin() as session:
                await outbox.release(session, row.id, retry_at=retry_at, error=str(exc), give_up=False,
                                     refund_attempt=True)
            return
        except Exception as exc:
            give_up = isinstance(exc, WebhookRejected) or attempts >= self.settings.max_attempts
            retry_at = self.clock() + timedelta(seconds=min(300.0, 2.0 ** attempts))
            async with self.sessions.begin() as session:
                await outbox.release(session, row.id, retry_at=retry_at, error=str(exc), give_up=give_up)
            log.warning("webhook %s failed (attempt %s): %s", name, attempts, exc)
            return
        async with self.sessions.begin() as session:
            await outbox.mark_sent(session, row.id, self.clock())
        self.sent_count += 1
