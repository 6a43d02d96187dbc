"""What the transport asks the gateway: group aliases are cached, the bot's own messages are never fetched.

The gateway counts the calls the gRPC service makes to its puppet (GET /calls).
"""

from __future__ import annotations

import asyncio

from tests.e2e.harness import ROOM_1, ROOM_STAFF, WANG


def in_room(sent: list[dict], room: str) -> list[dict]:
    return [m for m in sent if m.get("room") == room]


async def test_second_message_asks_no_alias_and_own_messages_are_not_fetched(gateway, wechat_bot):
    await gateway.call("DELETE", "/calls")
    first = await gateway.say(WANG, ROOM_1, "1号楼2单元电梯坏了，麻烦尽快修一下")
    await gateway.wait_sent(lambda s: in_room(s, ROOM_1) and in_room(s, ROOM_STAFF))
    second = await gateway.say(WANG, ROOM_1, "1号楼门口的井盖没了，太危险了")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 2 and len(in_room(s, ROOM_STAFF)) >= 2)
    await asyncio.sleep(1)  # the events of the bot's own messages have come back by now
    calls = await gateway.call("GET", "/calls")

    assert calls["roomMemberPayload"].count([ROOM_1, WANG]) == 1  # the alias, asked once for both messages
    fetched = [args[0] for args in calls["messagePayload"]]
    assert first in fetched and second in fetched
    own = {m["id"] for m in await gateway.sent()}
    assert len(own) >= len(sent) >= 4
    assert not own & set(fetched), "the payload of a message the bot sent was fetched"
    assert "居民：1-302王阿姨" in in_room(sent, ROOM_STAFF)[1]["text"]


async def test_changed_group_alias_is_used_after_a_room_event(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "1号楼2单元电梯坏了，麻烦尽快修一下")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 1)
    assert "居民：1-302王阿姨" in in_room(sent, ROOM_STAFF)[0]["text"]

    # WeChat tells nobody when a member changes their group alias: within ALIAS_TTL the bot keeps the old one.
    await gateway.call("POST", "/alias", {"room": ROOM_1, "contact": WANG, "alias": "1-302王姐"})
    await gateway.say(WANG, ROOM_1, "1号楼门口的井盖没了，太危险了")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 2)
    assert "居民：1-302王阿姨" in in_room(sent, ROOM_STAFF)[1]["text"]

    # Somebody joins the group: the bot forgets that group's aliases.
    await gateway.call("POST", "/join", {"room": ROOM_1, "contact": {"id": "wxid_newcomer", "name": "小周"}})
    await gateway.wait_sent(lambda s: any("欢迎" in m["text"] for m in in_room(s, ROOM_1)))
    await gateway.say(WANG, ROOM_1, "1号楼楼道里的消防栓漏水了，地上全是水，麻烦来看看")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 3)
    assert "居民：1-302王姐" in in_room(sent, ROOM_STAFF)[2]["text"]
