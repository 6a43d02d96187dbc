"""The built-in sandbox chat: browser windows play the WeChat groups (no account needed).

It goes through exactly the same dispatcher, storage and outbox as WeChat does; only
the delivery is different: bot messages are pushed to the open sandbox pages.
"""

from __future__ import annotations

import collections
import itertools
import logging
import uuid
from typing import Any, Awaitable, Callable

from bot.config import Settings
from bot.events import IncomingMessage, Outgoing, utcnow
from bot.transports.base import EventHandler, Transport, TransportUnavailable

log = logging.getLogger(__name__)

Subscriber = Callable[[dict[str, Any]], Awaitable[None]]
MAX_TEXT = 100_000
BOT_ID = "sandbox:bot"


class SandboxTransport(Transport):
    name = "sandbox"

    def __init__(self, settings: Settings):
        self.bot_name = settings.community.bot_name
        self.groups = [{"topic": g.topic, "role": g.role} for g in settings.groups]
        self._topics = {g.topic for g in settings.groups}
        self._staff_ids = {s.name: s.wechat_id for s in settings.staff if s.wechat_id}
        self.staff_names = [s.name for s in settings.staff]
        self.history: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=settings.sandbox.history)
        )
        self._subscribers: set[Subscriber] = set()
        self._on_event: EventHandler | None = None
        self._counter = itertools.count(1)

    # -- Transport ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._on_event is not None

    async def start(self, on_event: EventHandler) -> None:
        self._on_event = on_event

    async def stop(self) -> None:
        self._on_event = None

    async def send(self, message: Outgoing) -> None:
        if self._on_event is None:
            raise TransportUnavailable("sandbox stopped")
        prefix = "".join(f"@{name} " for name in message.mention_names)
        if message.to_id:
            window = f"direct:{message.to_id}"
        elif message.room_topic in self._topics:
            window = message.room_topic
        else:
            raise ValueError(f"no sandbox group {message.room_topic!r}")
        await self._publish(window, self.bot_name, prefix + message.text, is_bot=True)

    # -- the page side ------------------------------------------------------------------
    def chat_id_for(self, name: str) -> str:
        """A configured staff member with a wechat id speaks as that id; anyone else as sandbox:<name>."""
        return self._staff_ids.get(name) or f"sandbox:{name}"

    def welcome(self, name: str | None = None) -> dict[str, Any]:
        windows = [g["topic"] for g in self.groups]
        me = f"direct:{self.chat_id_for(name)}" if name else ""
        if me:
            windows.append(me)
        return {
            "type": "welcome",
            "me": me,  # the window of this visitor's private chat with the bot
            "bot": self.bot_name,
            "groups": self.groups,
            "staff": self.staff_names,
            "history": {w: list(self.history.get(w, ())) for w in windows},
        }

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def receive(self, frame: dict[str, Any]) -> str:
        """A visitor said something; returns '' when accepted or a Chinese error for the page."""
        name = str(frame.get("name") or "").strip()[:40]
        text = str(frame.get("text") or "")[:MAX_TEXT]
        group = frame.get("group")
        if not name:
            return "请先填写您的称呼"
        if not text.strip():
            return "消息不能为空"
        if group is not None and group not in self._topics:
            return "没有这个群"
        message_id = str(frame.get("id") or "")[:100] or uuid.uuid4().hex
        chat_id = self.chat_id_for(name)
        window = group if group is not None else f"direct:{chat_id}"
        await self._publish(window, name, text, is_bot=False, message_id=message_id)
        event = IncomingMessage(
            message_id=f"sandbox:{message_id}",
            talker_id=chat_id,
            talker_name=name,
            text=text,
            kind="text",
            room_id=group,
            room_topic=group,
            mentions_me=f"@{self.bot_name}" in text,
        )
        if self._on_event is not None:
            await self._on_event(event)
        return ""

    async def _publish(self, window: str, sender: str, text: str, *, is_bot: bool, message_id: str = "") -> None:
        bubble = {
            "type": "message",
            "id": message_id or f"bot-{next(self._counter)}",
            "window": window,
            "from": sender,
            "is_bot": is_bot,
            "text": text,
            "time": utcnow().isoformat(),
        }
        self.history[window].append(bubble)
        for subscriber in list(self._subscribers):
            try:
                await subscriber(bubble)
            except Exception:  # a closed page must not stop delivery to the others
                log.debug("dropping a sandbox subscriber", exc_info=True)
                self._subscribers.discard(subscriber)
