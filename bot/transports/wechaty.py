"""WeChat through python-wechaty and a wechaty puppet-service gateway (the only module importing wechaty).

What python-wechaty does not do for us, and this module does (tests/e2e/gateway/README.md has the
verified details):
- own the connection: python-wechaty's Wechaty.start() sleeps 60 s after a lost stream and stops the
  event loop on puppet errors, so we drive `puppet.start()` ourselves, reconnect with backoff and
  probe liveness with ding/dong (its heartbeat listener never fires);
- ignore the bot's own messages, which come back as events;
- stream photos from the gateway (FileBox cannot read the UUID boxes used above 20 KB);
- follow room topic changes (python-wechaty caches room payloads forever).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import timezone
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.events import IncomingMessage, MessageKind, Outgoing, utcnow
from bot.tasks import cancel_and_wait
from bot.transports.base import EventHandler, Transport, TransportUnavailable
from bot.transports.wechaty_compat import load

log = logging.getLogger(__name__)

wechaty = load()
import betterproto  # noqa: E402  (after the compatibility patch)
from grpclib.exceptions import GRPCError, StreamTerminatedError  # noqa: E402
from wechaty_grpc.wechaty.puppet import ImageType  # noqa: E402
from wechaty_puppet import MessageType, PuppetOptions  # noqa: E402
from wechaty_puppet.exceptions import WechatyPuppetError  # noqa: E402

# Errors that mean "the gateway is not there right now".
CONNECTION_ERRORS = (ConnectionError, OSError, StreamTerminatedError, GRPCError, asyncio.TimeoutError,
                     WechatyPuppetError)
BACKOFF_MAX = 5.0  # seconds; the bot is back within this long after the gateway returns
KINDS: dict[Any, MessageKind] = {
    MessageType.MESSAGE_TYPE_TEXT: "text",
    MessageType.MESSAGE_TYPE_IMAGE: "image",
    MessageType.MESSAGE_TYPE_ATTACHMENT: "file",
    MessageType.MESSAGE_TYPE_URL: "url",
    MessageType.MESSAGE_TYPE_RECALLED: "recalled",
}


class _Bot(wechaty.Wechaty):
    """python-wechaty's bot with its event callbacks forwarded to the transport."""

    def __init__(self, transport: "WechatyTransport", options):
        super().__init__(options)
        self._transport = transport

    async def on_message(self, msg) -> None:
        await self._transport._on_message(msg)

    async def on_room_join(self, room, invitees, inviter, date=None) -> None:
        await self._transport._on_room_join(room, invitees)

    async def on_room_topic(self, room, new_topic, old_topic, changer, date=None) -> None:
        self._transport._on_room_topic(room.room_id, new_topic, old_topic)


async def _noop() -> None:
    return None


class WechatyTransport(Transport):
    name = "wechaty"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.endpoint = settings.transport.endpoint
        self.token = settings.transport.token
        self.heartbeat = settings.transport.heartbeat_seconds
        self.max_attachment = int(settings.transport.max_attachment_mb * 1024 * 1024)
        self.attachments = Path(settings.storage.data_dir) / "attachments"
        self._configured = {g.topic for g in settings.groups}
        self._room_ids = {g.room_id: g.topic for g in settings.groups if g.room_id}
        self._topic_by_room: dict[str, str] = dict(self._room_ids)  # room id -> configured topic
        self._ignored: set[str] = set()
        self._member_ids: dict[tuple[str, str], str] = {}  # (room id, staff name) -> contact id
        self._on_event: EventHandler | None = None
        self._bot: _Bot | None = None
        self._logged_in = asyncio.Event()
        self._dong: asyncio.Queue[str] = asyncio.Queue()
        self._connected = False
        self._stopping = False
        self._supervisor: asyncio.Task | None = None
        self.reconnects = 0

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self, on_event: EventHandler) -> None:
        self._on_event = on_event
        self._stopping = False
        options = wechaty.WechatyOptions(
            puppet="wechaty-puppet-service",
            puppet_options=PuppetOptions(end_point=self.endpoint, token=self.token),  # a fresh one each time
        )
        self._bot = _Bot(self, options)
        # The plugin manager (a web server on port 5000 and a scheduler) breaks a second login; we use no plugins.
        self._bot._plugin_manager.start = _noop
        await self._bot.init_puppet()
        await self._bot.init_puppet_event_bridge(self._bot.puppet)
        self._bot.puppet.on("login", self._on_login)  # fires on every login, unlike Wechaty.on_login
        self._bot.puppet.on("dong", self._on_dong)
        self._supervisor = asyncio.create_task(self._supervise(), name="wechaty-connection")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._supervisor)
        self._supervisor = None
        if self._bot is not None and self._connected:
            try:
                await asyncio.wait_for(self._bot.puppet.stop(), 5)
            except Exception:  # shutting down: the gateway may already be gone
                log.debug("puppet stop failed", exc_info=True)
        self._close_channel()
        self._connected = False

    async def _supervise(self) -> None:
        """Keep one event stream open: connect, watch, reconnect with backoff."""
        backoff = 0.5
        while not self._stopping:
            pump = asyncio.create_task(self._bot.puppet.start(), name="wechaty-events")
            self._logged_in.clear()
            try:
                await self._wait_login(pump)
                self._connected = True
                backoff = 0.5
                log.info("connected to the wechaty gateway at %s", self.endpoint)
                await self._watch(pump)
            except asyncio.CancelledError:
                pump.cancel()
                raise
            except Exception as exc:
                log.warning("wechaty gateway unavailable (%s: %s); retrying in %.1f s",
                            type(exc).__name__, exc, backoff)
            if self._connected:
                self.reconnects += 1
            self._connected = False
            pump.cancel()
            self._close_channel()
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)

    async def _wait_login(self, pump: asyncio.Task) -> None:
        login = asyncio.create_task(self._logged_in.wait())
        done, _ = await asyncio.wait({pump, login}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if login not in done:
            login.cancel()
            if pump in done:
                pump.result()  # raises the connection error
                raise ConnectionError("event stream ended before login")
            raise TimeoutError("no login within 30 s")

    async def _watch(self, pump: asyncio.Task) -> None:
        """Return when the stream ends or the gateway stops answering ding."""
        while True:
            done, _ = await asyncio.wait({pump}, timeout=self.heartbeat)
            if done:
                pump.result()
                raise ConnectionError("event stream ended")
            if not await self._alive():
                raise ConnectionError("no dong for ding")

    async def _alive(self) -> bool:
        token = uuid.uuid4().hex[:8]
        try:
            await asyncio.wait_for(self._bot.puppet.ding(token), 10)
            while True:
                if await asyncio.wait_for(self._dong.get(), 10) == token:
                    return True
        except Exception:
            return False

    def _close_channel(self) -> None:
        puppet = getattr(self._bot, "puppet", None)
        channel = getattr(puppet, "channel", None)
        if channel is not None:
            try:
                channel.close()
            except Exception:
                pass
            puppet.channel = None

    async def _on_login(self, payload) -> None:
        self._logged_in.set()

    async def _on_dong(self, payload) -> None:
        data = getattr(payload, "data", payload)
        self._dong.put_nowait(str(data))

    # -- incoming ---------------------------------------------------------------------------
    def _topic_for(self, room_id: str, topic: str | None) -> str | None:
        """The configured group this room is: learned by topic, kept by id across renames."""
        if room_id in self._topic_by_room:
            return self._topic_by_room[room_id]
        if topic in self._configured:
            self._topic_by_room[room_id] = topic
            return topic
        if room_id not in self._ignored:
            self._ignored.add(room_id)
            log.info("ignoring unconfigured WeChat group %r (%s)", topic, room_id)
        return None

    def _on_room_topic(self, room_id: str, new_topic: str, old_topic: str) -> None:
        self._member_ids = {k: v for k, v in self._member_ids.items() if k[0] != room_id}
        if new_topic in self._configured:
            self._topic_by_room[room_id] = new_topic
        elif room_id in self._topic_by_room:
            log.warning("group %r was renamed to %r; still serving it as %r",
                        old_topic, new_topic, self._topic_by_room[room_id])
        self._ignored.discard(room_id)

    async def _on_message(self, msg) -> None:
        try:
            if msg.is_self():
                return  # our own message coming back: answering it would loop forever
            event = await self._convert(msg)
        except Exception:
            log.exception("could not read a WeChat message; skipped")
            return
        if event is not None and self._on_event is not None:
            await self._on_event(event)

    async def _convert(self, msg) -> IncomingMessage | None:
        room = msg.room()
        topic = None
        if room is not None:
            if room.payload is None:
                await room.ready()
            topic = self._topic_for(room.room_id, room.payload.topic if room.payload else None)
            if topic is None:
                return None
        talker = msg.talker()
        if talker.payload is None:
            await talker.ready()
        kind = KINDS.get(msg.type(), "other")
        text = msg.text() or ""
        alias = None
        mention_ids: tuple[str, ...] = ()
        mentions_me = False
        if room is not None:
            alias = (await room.alias(talker)) or None
            mention_ids = tuple(msg.payload.mention_ids or ())
            mentions_me = self._bot.puppet.self_id() in mention_ids
        attachment = None
        if kind == "image":
            attachment = await self._save_image(msg.message_id)
        when = msg.date()
        when = when.astimezone(timezone.utc) if when is not None else utcnow()
        return IncomingMessage(
            message_id=msg.message_id,
            talker_id=talker.contact_id,
            talker_name=talker.name or talker.contact_id,
            talker_alias=alias,
            text=text if kind != "recalled" else "",
            kind=kind,
            room_id=room.room_id if room is not None else None,
            room_topic=topic,
            mentions_me=mentions_me,
            mention_ids=mention_ids,
            time=when,
            recalled_id=text if kind == "recalled" else None,
            attachment_path=attachment,
        )

    async def _save_image(self, message_id: str) -> str | None:
        """Stream the original photo from the gateway into the data folder (size capped)."""
        stub = self._bot.puppet.puppet_stub
        name, size, chunks = "", 0, []
        async for response in stub.message_image_stream(id=message_id, type=ImageType.IMAGE_TYPE_ARTWORK):
            field, value = betterproto.which_one_of(response.file_box_chunk, "payload")
            if field == "name":
                name = value
            elif field == "data":
                size += len(value)
                if size > self.max_attachment:
                    log.warning("photo %s is over %d bytes; not stored", message_id, self.max_attachment)
                    return None
                chunks.append(value)
        suffix = Path(name).suffix.lower() if re.fullmatch(r"[\w.\-]{1,100}", name or "") else ""
        folder = self.attachments / utcnow().strftime("%Y%m")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (re.sub(r"[^\w\-]", "_", message_id)[:100] + (suffix or ".jpg"))
        await asyncio.to_thread(path.write_bytes, b"".join(chunks))
        return str(path)

    async def _on_room_join(self, room, invitees) -> None:
        topic = self._topic_for(room.room_id, await room.topic())
        if topic is None or self._on_event is None:
            return
        self_id = self._bot.puppet.self_id()
        for contact in invitees:
            if contact.contact_id == self_id:
                continue
            if contact.payload is None:
                await contact.ready()
            await self._on_event(IncomingMessage(
                message_id=f"join:{room.room_id}:{contact.contact_id}:{utcnow():%Y%m%d%H%M}",
                talker_id=contact.contact_id,
                talker_name=contact.name or contact.contact_id,
                kind="join",
                room_id=room.room_id,
                room_topic=topic,
            ))

    # -- outgoing ------------------------------------------------------------------------------
    async def send(self, message: Outgoing) -> None:
        if not self._connected or self._bot is None:
            raise TransportUnavailable("not connected to the wechaty gateway")
        try:
            if message.to_id:
                contact = self._bot.Contact.load(message.to_id)
                await contact.ready()
                await contact.say(message.text)
                return
            room = await self._room_for(message)
            mention_ids = list(message.mention_ids) or await self._ids_for_names(room, message.mention_names)
            await room.say(message.text, mention_ids=mention_ids or None)
        except CONNECTION_ERRORS as exc:
            raise TransportUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _room_for(self, message: Outgoing):
        room_id = message.room_id
        if room_id is None or room_id not in self._topic_by_room:
            room_id = next((rid for rid, topic in self._topic_by_room.items() if topic == message.room_topic), None)
        if room_id is None:
            wanted = message.room_topic
            rooms = await self._bot.Room.find_all(lambda r: r.payload is not None and r.payload.topic == wanted)
            if not rooms:
                raise LookupError(f"the bot is not in a WeChat group named {wanted!r}")
            room_id = rooms[0].room_id
            self._topic_by_room[room_id] = wanted
        room = self._bot.Room.load(room_id)
        if room.payload is None:
            await room.ready()
        return room

    async def _ids_for_names(self, room, names: tuple[str, ...]) -> list[str]:
        """Staff in config are known by name; find their ids among the group's members (cached)."""
        missing = [n for n in names if (room.room_id, n) not in self._member_ids]
        if missing:
            members = await room.member_list()
            for name in missing:
                for member in members:
                    if member.name == name or (await room.alias(member)) == name:
                        self._member_ids[(room.room_id, name)] = member.contact_id
                        break
        return [self._member_ids[(room.room_id, n)] for n in names if (room.room_id, n) in self._member_ids]
