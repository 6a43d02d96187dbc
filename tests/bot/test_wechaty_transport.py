"""WechatyTransport's caches and own-message filter, with python-wechaty's objects replaced by fakes.

tests/e2e/test_wechaty_round_trips.py checks the same against the real gateway.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from bot.transports import wechaty as transport_module
from bot.transports.wechaty import ALIAS_TTL, WechatyTransport
from wechaty_puppet import MessageType

BOT = "wxid_bot"
ROOM = "room-3@chatroom"
TOPIC = "西园3号楼业主群"
LIU = "wxid_liunvshi"


class FakeContact:
    def __init__(self, contact_id: str, name: str):
        self.contact_id = contact_id
        self.name = name
        self.payload = SimpleNamespace(name=name)

    async def ready(self) -> None:
        pass


class FakeRoom:
    def __init__(self, room_id: str, topic: str, aliases: dict[str, str]):
        self.room_id = room_id
        self.payload = SimpleNamespace(topic=topic)
        self.aliases = aliases
        self.alias_calls = 0
        self.gate: asyncio.Event | None = None  # when set, alias() waits for it

    async def alias(self, member: FakeContact) -> str | None:
        self.alias_calls += 1
        alias = self.aliases.get(member.contact_id)
        if self.gate is not None:
            await self.gate.wait()
        return alias


class FakeMessage:
    loaded: list[str] = []

    def __init__(self, message_id: str, talker: FakeContact, room: FakeRoom | None, text: str = "你好"):
        self.message_id = message_id
        self._talker, self._room, self._text = talker, room, text
        self.payload = SimpleNamespace(mention_ids=[])

    def is_self(self) -> bool:
        return self._talker.contact_id == BOT

    def room(self):
        return self._room

    def talker(self):
        return self._talker

    def type(self):
        return MessageType.MESSAGE_TYPE_TEXT

    def text(self) -> str:
        return self._text

    def date(self):
        return None


class FakePuppet:
    """message_send_text answers with the next id; `early` makes the gateway send its event first."""

    def __init__(self, transport: WechatyTransport):
        self.transport = transport
        self.sent: list[tuple[str, str, list[str] | None]] = []
        self.early = False

    def self_id(self) -> str:
        return BOT

    async def message_send_text(self, conversation_id: str, message: str, mention_ids=None) -> str:
        message_id = f"own-{len(self.sent)}"
        self.sent.append((conversation_id, message, mention_ids))
        if self.early:  # the event overtakes the reply that carries the id
            asyncio.get_running_loop().create_task(self.transport._on_message_event(SimpleNamespace(message_id=message_id)))
            await asyncio.sleep(0.01)
        return message_id


@pytest.fixture
def world(settings):
    transport = WechatyTransport(settings)
    contacts = {BOT: FakeContact(BOT, "西园小助手"), LIU: FakeContact(LIU, "刘女士")}
    room = FakeRoom(ROOM, TOPIC, {LIU: "3-502刘"})
    messages: dict[str, FakeMessage] = {}
    loaded: list[str] = []

    class MessageClass:
        @staticmethod
        def load(message_id: str):
            loaded.append(message_id)
            msg = messages.get(message_id) or FakeMessage(message_id, contacts[BOT], room)

            async def ready() -> None:
                pass

            msg.ready = ready
            return msg

    puppet = FakePuppet(transport)
    transport._bot = SimpleNamespace(
        puppet=puppet, Message=MessageClass,
        Contact=SimpleNamespace(load=lambda cid: contacts[cid]),
        Room=SimpleNamespace(load=lambda rid: room),
    )
    transport._connected = True
    transport._topic_by_room[ROOM] = TOPIC
    events = []

    async def on_event(event) -> None:
        events.append(event)

    transport._on_event = on_event
    return SimpleNamespace(transport=transport, room=room, liu=contacts[LIU], messages=messages, loaded=loaded,
                           puppet=puppet, events=events)


def say(world, message_id: str, text: str = "你好") -> FakeMessage:
    msg = FakeMessage(message_id, world.liu, world.room, text)
    world.messages[message_id] = msg
    return msg


async def test_second_message_from_a_member_asks_no_alias(world):
    first = await world.transport._convert(say(world, "m1"))
    second = await world.transport._convert(say(world, "m2"))
    assert world.room.alias_calls == 1
    assert first.display_name == second.display_name == "3-502刘"


@pytest.mark.parametrize("event", ["room-join", "room-leave", "room-topic"])
async def test_room_event_forgets_that_rooms_aliases(world, event):
    other = FakeRoom("room-5@chatroom", "西园5号楼业主群", {LIU: "5-刘"})
    world.transport._topic_by_room[other.room_id] = other.payload.topic
    await world.transport._convert(say(world, "m1"))
    await world.transport._convert(FakeMessage("m2", world.liu, other))
    world.room.aliases[LIU] = "3-502刘姐"  # changed quietly: WeChat sends no event for it
    assert (await world.transport._convert(say(world, "m3"))).display_name == "3-502刘"

    world.transport._on_room_change(SimpleNamespace(room_id=ROOM))  # as the puppet emits `event`
    assert (await world.transport._convert(say(world, "m4"))).display_name == "3-502刘姐"
    assert world.room.alias_calls == 2
    await world.transport._convert(FakeMessage("m5", world.liu, other))
    assert other.alias_calls == 1  # another room's aliases are kept


async def test_alias_is_asked_again_after_the_ttl(world):
    now = [1000.0]
    world.transport._clock = lambda: now[0]
    await world.transport._convert(say(world, "m1"))
    world.room.aliases[LIU] = "3-502刘姐"
    now[0] += ALIAS_TTL - 1
    assert (await world.transport._convert(say(world, "m2"))).display_name == "3-502刘"
    now[0] += 2
    assert (await world.transport._convert(say(world, "m3"))).display_name == "3-502刘姐"
    assert world.room.alias_calls == 2


async def test_no_alias_falls_back_to_the_name_and_is_cached_too(world):
    del world.room.aliases[LIU]
    for message_id in ("m1", "m2"):
        assert (await world.transport._convert(say(world, message_id))).display_name == "刘女士"
    assert world.room.alias_calls == 1


async def test_alias_read_across_a_room_event_is_not_kept(world):
    world.room.gate = asyncio.Event()
    reading = asyncio.create_task(world.transport._convert(say(world, "m1")))
    await asyncio.sleep(0)
    world.transport._on_room_change(SimpleNamespace(room_id=ROOM))  # arrives while the alias is on its way
    world.room.gate.set()
    await reading
    world.room.gate = None
    await world.transport._convert(say(world, "m2"))
    assert world.room.alias_calls == 2


async def test_staff_names_resolve_through_the_alias_cache_and_room_events_forget_them(world):
    zhang = FakeContact("wxid_zhangmin", "张敏")
    world.room.aliases[zhang.contact_id] = "网格员张敏"

    async def member_list():
        return [world.liu, zhang]

    world.room.member_list = member_list
    assert await world.transport._ids_for_names(world.room, ("网格员张敏",)) == [zhang.contact_id]
    assert await world.transport._ids_for_names(world.room, ("网格员张敏",)) == [zhang.contact_id]
    assert world.room.alias_calls == 2  # each member once
    world.transport._on_room_change(SimpleNamespace(room_id=ROOM))
    assert await world.transport._ids_for_names(world.room, ("网格员张敏",)) == [zhang.contact_id]
    assert world.room.alias_calls == 4


async def test_own_messages_are_dropped_before_their_payload_is_fetched(world):
    from bot.events import Outgoing

    await world.transport.send(Outgoing(text="收到", room_id=ROOM, room_topic=TOPIC, mention_ids=(LIU,)))
    assert world.puppet.sent == [(ROOM, "@刘女士 收到", [LIU])]  # as Room.say writes it
    await world.transport._on_message_event(SimpleNamespace(message_id="own-0"))  # it comes back
    say(world, "m1")
    await world.transport._on_message_event(SimpleNamespace(message_id="m1"))  # a resident speaks
    await world.transport._on_message_event(SimpleNamespace(message_id="m1"))  # the same event again
    assert world.loaded == ["m1"]
    assert [e.message_id for e in world.events] == ["m1"]


async def test_own_message_whose_event_overtakes_the_send_reply_is_dropped(world):
    from bot.events import Outgoing

    world.puppet.early = True
    await world.transport.send(Outgoing(text="收到", room_id=ROOM, room_topic=TOPIC))
    await asyncio.sleep(0.05)
    assert world.puppet.sent == [(ROOM, "收到", None)]
    assert world.loaded == [] and world.events == []


async def test_mentions_are_written_as_room_say_writes_them(world):
    from bot.events import Outgoing

    await world.transport.send(Outgoing(text="请处理", room_id=ROOM, room_topic=TOPIC, mention_ids=(LIU, BOT)))
    assert world.puppet.sent == [(ROOM, "@刘女士\u2005@西园小助手 请处理", [LIU, BOT])]


async def test_a_message_sent_from_the_phone_is_still_ignored(world):
    await world.transport._on_message_event(SimpleNamespace(message_id="typed-on-the-phone"))
    assert world.loaded == ["typed-on-the-phone"] and world.events == []


async def test_a_stuck_send_holds_incoming_messages_only_briefly(world, monkeypatch):
    from bot.events import Outgoing

    monkeypatch.setattr(transport_module, "OWN_ECHO_WAIT", 0.05)
    stuck = asyncio.Event()

    async def message_send_text(conversation_id, message, mention_ids=None):
        await stuck.wait()
        return "own-late"

    world.puppet.message_send_text = message_send_text
    sending = asyncio.create_task(world.transport.send(Outgoing(text="收到", room_id=ROOM, room_topic=TOPIC)))
    await asyncio.sleep(0)
    say(world, "m1")
    await asyncio.wait_for(world.transport._on_message_event(SimpleNamespace(message_id="m1")), 1)
    assert [e.message_id for e in world.events] == ["m1"]
    stuck.set()
    await sending
    assert not world.transport._sending
