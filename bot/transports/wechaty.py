"""WeChat through python-wechaty and a wechaty puppet-service gateway (the only module importing wechaty).

What python-wechaty does not do for us, and this module does (tests/e2e/gateway/README.md has the
verified details):
- own the connection: python-wechaty's Wechaty.start() sleeps 60 s after a lost stream and stops the
  event loop on puppet errors, so we drive `puppet.start()` ourselves, reconnect with backoff and
  probe liveness with ding/dong (its heartbeat listener never fires);
- ignore the bot's own messages, which come back as events: the ids the sends returned are dropped
  before python-wechaty would fetch their payload (it bridges every puppet event but 'message',
  which `_on_message_event` takes);
- remember each member's group alias (python-wechaty asks the gateway on every call), per room,
  until a join/leave/topic event in that room or ALIAS_TTL;
- stream photos from the gateway (FileBox cannot read the UUID boxes used above 20 KB);
- follow room topic changes (python-wechaty caches room payloads forever).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import OrderedDict
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
from wechaty.config import AT_SEPARATOR  # noqa: E402
from wechaty_grpc.wechaty.puppet import ImageType  # noqa: E402
from wechaty_puppet import MessageType, PuppetOptions  # noqa: E402
from wechaty_puppet.exceptions import WechatyPuppetError  # noqa: E402

# Errors that mean "the gateway is not there right now".
CONNECTION_ERRORS = (ConnectionError, OSError, StreamTerminatedError, GRPCError, asyncio.TimeoutError,
                     WechatyPuppetError)
BACKOFF_MAX = 5.0  # seconds; the bot is back within this long after the gateway returns
# WeChat sends no event when a member changes their group alias (群昵称): a cached alias is asked
# again after this long. Join/leave/topic events in a room forget that room's aliases at once.
ALIAS_TTL = 300.0  # seconds
# A message event that arrives while a send is in flight may be that send coming back (the gateway
# can send the event before the reply that carries its id): wait this long at most for the id.
OWN_ECHO_WAIT = 1.0  # seconds
SENT_IDS_KEPT = 2000  # ids of our own recent messages
SEEN_IDS_KEPT = 10000  # ids of recent message events (the gateway may repeat one)
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

    async def on_room_join(self, room, invitees, inviter, date=None) -> None:
        await self._transport._on_room_join(room, invitees)

    async def on_room_topic(self, room, new_topic, old_topic, changer, date=None) -> None:
        self._transport._on_room_topic(room.room_id, new_topic, old_topic)


async def _noop() -> None:
    return None


class _AllButMessages:
    """The puppet as Wechaty.init_puppet_event_bridge sees it: every listener but 'message' is added.

    The bridge's message listener fetches the payload of every message (ours included) before any
    callback could drop it; the transport listens to the puppet's 'message' event itself.
    """

    def __init__(self, puppet):
        self._puppet = puppet

    def on(self, event_name: str, listener) -> None:
        if event_name != "message":
            self._puppet.on(event_name, listener)

    def __getattr__(self, name: str):
        return getattr(self._puppet, name)


class _RecentIds:
    """The last `size` ids added, for membership tests."""

    def __init__(self, size: int):
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)


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
        self._aliases: dict[str, dict[str, tuple[str | None, float]]] = {}  # room -> member -> (alias, when)
        self._room_changes: dict[str, int] = {}  # room id -> room events seen (an alias read across one is not kept)
        self._clock = time.monotonic
        self._sent_ids = _RecentIds(SENT_IDS_KEPT)
        self._seen_ids = _RecentIds(SEEN_IDS_KEPT)
        self._sending: set[asyncio.Future] = set()  # one per send in flight
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
        puppet = self._bot.puppet
        await self._bot.init_puppet_event_bridge(_AllButMessages(puppet))
        puppet.on("message", self._on_message_event)
        puppet.on("login", self._on_login)  # fires on every login, unlike Wechaty.on_login
        puppet.on("dong", self._on_dong)
        for event in ("room-join", "room-leave", "room-topic"):  # as they arrive, before the bridge's fetches
            puppet.on(event, self._on_room_change)
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
        if new_topic in self._configured:
            self._topic_by_room[room_id] = new_topic
        elif room_id in self._topic_by_room:
            log.warning("group %r was renamed to %r; still serving it as %r",
                        old_topic, new_topic, self._topic_by_room[room_id])
        self._ignored.discard(room_id)

    def _on_room_change(self, payload) -> None:
        """A member joined or left, or the topic changed: forget what we know about the room's members."""
        room_id = payload.room_id
        self._room_changes[room_id] = self._room_changes.get(room_id, 0) + 1
        self._aliases.pop(room_id, None)
        self._member_ids = {k: v for k, v in self._member_ids.items() if k[0] != room_id}

    async def _alias(self, room, member) -> str | None:
        """The member's alias in the group, asked of the gateway at most once per ALIAS_TTL."""
        known = self._aliases.get(room.room_id, {}).get(member.contact_id)
        now = self._clock()
        if known is not None and now - known[1] < ALIAS_TTL:
            return known[0]
        changes = self._room_changes.get(room.room_id, 0)
        alias = (await room.alias(member)) or None
        if self._room_changes.get(room.room_id, 0) == changes:  # no room event while we asked
            self._aliases.setdefault(room.room_id, {})[member.contact_id] = (alias, now)
        return alias

    async def _on_message_event(self, payload) -> None:
        """The puppet's 'message' event: drop our own messages and repeats, then read the message."""
        message_id = payload.message_id
        if message_id in self._seen_ids:
            return  # the gateway sometimes sends one event twice
        self._seen_ids.add(message_id)
        if await self._is_own(message_id):
            return
        try:
            msg = self._bot.Message.load(message_id)
            await msg.ready()
        except Exception:
            log.exception("could not read WeChat message %s; skipped", message_id)
            return
        await self._on_message(msg)

    async def _is_own(self, message_id: str) -> bool:
        """Whether a send of ours returned this id (waiting for the sends in flight, if any)."""
        if message_id in self._sent_ids:
            return True
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=OWN_ECHO_WAIT)
            return message_id in self._sent_ids
        return False

    async def _on_message(self, msg) -> None:
        try:
            if msg.is_self():
                return  # our own message coming back (or sent from the phone): answering could loop forever
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
            alias = await self._alias(room, talker)
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
                await self._send_text(contact.contact_id, message.text)
                return
            room = await self._room_for(message)
            mention_ids = list(message.mention_ids) or await self._ids_for_names(room, message.mention_names)
            await self._send_text(room.room_id, message.text, mention_ids)
        except CONNECTION_ERRORS as exc:
            raise TransportUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _send_text(self, conversation_id: str, text: str, mention_ids: list[str] | None = None) -> None:
        """Room.say / Contact.say without their payload fetch of the sent message; its id is remembered.

        The text gets the "@name" prefix the way Room.say writes it (names from the contacts).
        """
        if mention_ids:
            names = []
            for contact_id in mention_ids:
                contact = self._bot.Contact.load(contact_id)
                await contact.ready()
                names.append("@" + contact.name)
            text = AT_SEPARATOR.join(names) + " " + text
        sending = asyncio.get_running_loop().create_future()
        self._sending.add(sending)
        try:
            message_id = await self._bot.puppet.message_send_text(
                conversation_id=conversation_id, message=text, mention_ids=mention_ids or None)
            if message_id:
                self._sent_ids.add(message_id)
        finally:
            self._sending.discard(sending)
            sending.set_result(None)

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
                    if member.name == name or (await self._alias(room, member)) == name:
                        self._member_ids[(room.room_id, name)] = member.contact_id
                        break
        return [self._member_ids[(room.room_id, n)] for n in names if (room.room_id, n) in self._member_ids]
