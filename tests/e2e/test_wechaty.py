"""The bot on the real wechaty puppet-service protocol, against the Node test gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.e2e.harness import (BOT_ID, LI, LIU, ROOM_1, ROOM_3, ROOM_DANCE, ROOM_STAFF, WANG, ZHANGMIN,
                               start_bot, ticket_number)


def in_room(sent: list[dict], room: str) -> list[dict]:
    return [m for m in sent if m.get("room") == room]


async def test_report_gets_reply_with_mention_and_staff_alert_with_same_number(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "1号楼2单元电梯坏了，麻烦尽快修一下")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_1) and in_room(s, ROOM_STAFF))
    reply, alert = in_room(sent, ROOM_1)[0], in_room(sent, ROOM_STAFF)[0]
    assert reply["mentions"] == [WANG]
    assert reply["text"].startswith("@王阿姨")
    assert ticket_number(reply["text"]) == ticket_number(alert["text"])
    assert "电梯" in alert["text"] and "命中：" in alert["text"]
    assert alert["mentions"] == [ZHANGMIN]  # the grid worker, found by name among the staff group


async def test_chit_chat_gets_nothing_and_the_bot_never_answers_itself(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "大家早上好[太阳]")
    await gateway.say(LI, ROOM_3, "收到，谢谢张敏👍")
    await gateway.say(LIU, ROOM_3, "3号楼楼道灯坏了好几天了，麻烦物业来修一下")
    await gateway.wait_sent(lambda s: len(s) >= 2)
    await asyncio.sleep(2)  # its own messages come back as events: none may be answered
    sent = await gateway.sent()
    assert len(sent) == 2, sent
    assert all("楼道灯" in m["text"] or "#" in m["text"] for m in sent)


async def test_unconfigured_group_is_ignored(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_DANCE, "广场的路灯坏了，麻烦修一下")
    await gateway.say(WANG, ROOM_1, "1号楼门口的井盖没了，太危险了")
    sent = await gateway.wait_sent(lambda s: len(s) >= 2)
    await asyncio.sleep(1)
    assert in_room(await gateway.sent(), ROOM_DANCE) == []
    assert "井盖" in in_room(sent, ROOM_STAFF)[0]["text"]


async def test_mentioning_the_bot_always_gets_an_answer(gateway, wechat_bot):
    await gateway.say(LI, ROOM_3, "@西园小助手 你好", mentions=[BOT_ID])
    sent = await gateway.wait_sent(lambda s: len(s) >= 1)
    assert sent[0]["room"] == ROOM_3 and sent[0]["mentions"] == [LI]
    assert "报修" in sent[0]["text"]


async def test_photo_after_a_report_is_attached(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "1号楼楼道里的消防栓漏水了，地上全是水，麻烦来看看")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 1)
    number = ticket_number(in_room(sent, ROOM_STAFF)[0]["text"])
    photo = await gateway.image(WANG, ROOM_1, size=150_000)  # well over the 20 KB UUID-box limit
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 2)
    assert f"#{number}" in in_room(sent, ROOM_STAFF)[1]["text"] and "照片" in in_room(sent, ROOM_STAFF)[1]["text"]
    stored = list(Path(wechat_bot.data_dir, "attachments").rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 1 and files[0].stat().st_size == photo["size"]


async def test_recalled_report_cancels_its_untouched_ticket(gateway, wechat_bot):
    message_id = await gateway.say(LIU, ROOM_3, "3号楼502门口的灯坏了，请帮忙修一下")
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 1)
    number = ticket_number(in_room(sent, ROOM_STAFF)[0]["text"])
    await gateway.call("POST", "/recall", {"message_id": message_id})
    sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_STAFF)) >= 2)
    assert f"#{number}" in in_room(sent, ROOM_STAFF)[1]["text"] and "取消" in in_room(sent, ROOM_STAFF)[1]["text"]


async def test_new_resident_is_greeted(gateway, wechat_bot):
    await gateway.call("POST", "/join", {"room": ROOM_3, "contact": {"id": "wxid_newcomer", "name": "小周"}})
    sent = await gateway.wait_sent(lambda s: len(s) >= 1)
    assert sent[0]["room"] == ROOM_3 and "欢迎" in sent[0]["text"]


async def test_renamed_group_is_still_served(gateway, wechat_bot):
    await gateway.say(WANG, ROOM_1, "大家好")  # the bot learns the room by its topic
    await asyncio.sleep(0.5)
    await gateway.call("POST", "/topic", {"room": ROOM_1, "topic": "西园1号楼邻里群"})
    await asyncio.sleep(0.5)
    await gateway.say(WANG, ROOM_1, "1号楼电梯又坏了，麻烦尽快修一下")
    sent = await gateway.wait_sent(lambda s: in_room(s, ROOM_1) and in_room(s, ROOM_STAFF))
    assert "西园1号楼业主群" in in_room(sent, ROOM_STAFF)[0]["text"]


async def test_gateway_restart_bot_answers_again_and_owed_replies_arrive(tmp_path, gateway, reset_database):
    # Slow pacing so that replies are still owed when the gateway goes away.
    bot = await start_bot(tmp_path, gateway, GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS="3")
    try:
        texts = ["1号楼电梯坏了，麻烦来修一下", "1号楼门口路灯不亮了，麻烦修一下", "1号楼楼道里堆满了杂物，请物业清理一下"]
        for text in texts:
            await gateway.say(WANG, ROOM_1, text)
        await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 1)
        await gateway.call("POST", "/stop")
        await asyncio.sleep(4)
        await gateway.call("POST", "/start")
        started = time.monotonic()
        await gateway.wait_attached(timeout=30)
        assert time.monotonic() - started < 30
        sent = await gateway.wait_sent(lambda s: len(in_room(s, ROOM_1)) >= 3 and len(in_room(s, ROOM_STAFF)) >= 3,
                                       timeout=40)
        numbers = sorted(ticket_number(m["text"]) for m in in_room(sent, ROOM_1))
        assert numbers == sorted(set(numbers)) and len(numbers) == 3  # each owed reply once
        # And it answers new messages again.
        await gateway.say(LI, ROOM_3, "3号楼水管爆了，楼道里都是水，快来人看看")
        await gateway.wait_sent(lambda s: len(in_room(s, ROOM_3)) >= 1, timeout=30)
    finally:
        assert await bot.stop() == 0
