"""The ticket loop on the real wechaty protocol: staff act in the staff room, residents hear back."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import LI, LIU, ROOM_3, ROOM_STAFF, WANG, ZHANGMIN, ticket_number

ROOM_1 = "room-1@chatroom"
ZHAOSHUJI = "wxid_zhaoshuji"


def in_room(sent, room):
    return [m for m in sent if m.get("room") == room]


async def test_report_take_resolve_and_satisfied(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "1号楼电梯坏了，麻烦尽快修一下")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_STAFF))
    number = ticket_number(in_room(sent, ROOM_STAFF)[0]["text"])

    await gateway.say(ZHANGMIN, ROOM_STAFF, f"接单 #{number}")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 2)
    taken = in_room(sent, ROOM_1)[1]
    assert "网格员张敏已接单" in taken["text"] and taken["mentions"] == [WANG]

    await gateway.say(ZHANGMIN, ROOM_STAFF, f"办结 #{number} 已更换电梯门机，恢复运行")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 3)
    resolved = in_room(sent, ROOM_1)[2]
    assert "已更换电梯门机" in resolved["text"] and "满意请回复" in resolved["text"]

    await gateway.say(WANG, ROOM_1, "满意")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 4)
    assert "感谢您的评价" in in_room(sent, ROOM_1)[3]["text"]
    await gateway.say(ZHANGMIN, ROOM_STAFF, f"查询 #{number}")
    sent = await gateway.wait_sent(lambda s: any("评价：满意" in m["text"] for m in in_room(s, ROOM_STAFF)))


async def test_a_residents_resolve_changes_nothing(gateway, wechat_bot):
    await gateway.say(LIU, ROOM_3, "3号楼楼道灯坏了，麻烦修一下")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_STAFF))
    number = ticket_number(in_room(sent, ROOM_STAFF)[0]["text"])
    await gateway.say(LIU, ROOM_3, f"办结 #{number} 我自己修好了")
    await gateway.say(ZHANGMIN, ROOM_STAFF, f"查询 #{number}")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 2)
    assert "待接单" in in_room(sent, ROOM_STAFF)[-1]["text"]


async def test_emergency_reaches_staff_at_once_with_numbers_in_the_group(gateway, wechat_bot):
    await gateway.say(LI, ROOM_3, "3号楼一楼着火了好大的烟快来人")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_3) and in_room(s, ROOM_STAFF))
    reply, alert = in_room(sent, ROOM_3)[0], in_room(sent, ROOM_STAFF)[0]
    assert "119" in reply["text"] and reply["mentions"] == [LI]
    assert alert["text"].startswith("@") and "【紧急" in alert["text"]
    assert set(alert["mentions"]) == {ZHANGMIN, ZHAOSHUJI}


async def test_second_residents_report_joins_the_first_ticket(gateway, wechat_bot):
    await gateway.say(LIU, ROOM_3, "3号楼电梯坏了，麻烦修一下")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_STAFF))
    number = ticket_number(in_room(sent, ROOM_STAFF)[0]["text"])
    await gateway.say(LI, ROOM_3, "3号楼的电梯又不动了，赶紧来修吧")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 2)
    assert f"#{number} 附议" in in_room(sent, ROOM_STAFF)[1]["text"]
    await gateway.say(ZHANGMIN, ROOM_STAFF, f"接单 #{number}")
    sent = await gateway.wait_sent(lambda s: any("已接单" in m["text"] for m in in_room(s, ROOM_3)))
    taken = next(m for m in in_room(sent, ROOM_3) if "已接单" in m["text"])
    assert set(taken["mentions"]) == {LIU, LI}
    await asyncio.sleep(0.5)
