"""A resident's message becomes a ticket, a reply in their group and an alert for staff."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage.models import InboxMessage, OutboxMessage, Ticket, TicketEvent
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP, resident_message


async def count(bot, model) -> int:
    async with bot.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_request_opens_ticket_replies_and_alerts_staff(bot, transport):
    await bot.dispatcher.feed(resident_message("3号楼2单元电梯坏了，麻烦尽快修一下"))
    sent = await transport.wait_for(2)

    async with bot.sessions() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert ticket.intent == "request" and ticket.category == "repair"
    assert ticket.status == "open" and ticket.grid_id == "g1"

    reply = transport.in_room(RESIDENT_GROUP)[0]
    assert f"#{ticket.id}" in reply.text and "设施报修" in reply.text
    assert reply.mention_names == ("王阿姨",) and reply.mention_ids == ("wxid_王阿姨",)
    assert "7 天内" in reply.text  # normal urgency: [sla] normal = 168 hours
    assert "张敏" in reply.text  # the grid worker of 第一网格

    alert = transport.in_room(STAFF_GROUP)[0]
    assert f"#{ticket.id}" in alert.text
    assert "王阿姨" in alert.text and RESIDENT_GROUP in alert.text
    assert "3号楼2单元电梯坏了" in alert.text
    assert "命中：" in alert.text and "电梯" in alert.text
    assert alert.mention_names == ("张敏",)
    assert len(sent) == 2


async def test_inquiry_is_acknowledged_and_alerted_as_consultation(bot, transport):
    await bot.dispatcher.feed(resident_message("请问居住证在哪里办理？需要带什么材料", name="刘女士"))
    await transport.wait_for(2)
    reply = transport.in_room(RESIDENT_GROUP)[0]
    alert = transport.in_room(STAFF_GROUP)[0]
    assert "咨询已收到" in reply.text
    assert alert.text.startswith("【居民咨询 #")
    hits = alert.text.split("命中：")[1].split("\n")[0]
    assert "请问" in hits and "?" not in hits and "？" not in hits  # words, not punctuation


async def test_chit_chat_and_thanks_get_no_answer(bot, transport):
    for text in ["大家早上好", "好的收到👍", "电梯修好了谢谢物业", "【反诈提醒】陌生链接不要点"]:
        await bot.dispatcher.feed(resident_message(text))
    await asyncio.sleep(0.3)
    assert transport.sent == []
    assert await count(bot, Ticket) == 0


async def test_unknown_group_is_ignored(bot, transport):
    await bot.dispatcher.feed(resident_message("楼道灯坏了麻烦来修一下", group="西园广场舞群"))
    await asyncio.sleep(0.3)
    assert transport.sent == []
    assert await count(bot, Ticket) == 0
    assert await count(bot, InboxMessage) == 0  # nothing kept from groups we are not in


async def test_staff_group_messages_do_not_open_tickets(bot, transport):
    await bot.dispatcher.feed(resident_message("5栋楼道灯坏了", name="张敏", group=STAFF_GROUP))
    await asyncio.sleep(0.3)
    assert await count(bot, Ticket) == 0 and transport.sent == []


async def test_same_message_id_twice_makes_one_ticket(bot, transport):
    message = resident_message("小区东门的路灯不亮了，晚上太黑了，请物业修一下", message_id="m-1")
    await bot.dispatcher.feed(message)
    await bot.dispatcher.feed(message)
    await asyncio.gather(bot.dispatcher.feed(message), bot.dispatcher.feed(message))
    await transport.wait_for(2)
    await asyncio.sleep(0.3)
    assert await count(bot, Ticket) == 1
    assert len(transport.sent) == 2


async def test_every_change_is_audited(bot, transport):
    await bot.dispatcher.feed(resident_message("3号楼2单元电梯坏了，麻烦尽快修一下"))
    await transport.wait_for(2)
    async with bot.sessions() as session:
        kinds = [e.kind for e in (await session.scalars(select(TicketEvent).order_by(TicketEvent.id))).all()]
    assert kinds == ["created", "assigned", "alerted"]


async def test_emergency_takes_the_fast_path(bot, transport):
    await bot.dispatcher.feed(resident_message("3号楼302冒烟了好像着火了快来人", name="李大爷"))
    await transport.wait_for(2)
    async with bot.sessions() as session:
        ticket = (await session.scalars(select(Ticket))).one()
        priorities = (await session.scalars(select(OutboxMessage.priority))).all()
    assert ticket.urgency == "emergency"
    assert (ticket.due_at - ticket.created_at).total_seconds() == 2 * 3600
    reply = transport.in_room(RESIDENT_GROUP)[0]
    assert "119" in reply.text and "#1" in reply.text  # the right number and first advice
    alert = transport.in_room(STAFF_GROUP)[0]
    assert alert.text.startswith("【紧急")
    assert set(alert.mention_names) == {"张敏", "赵书记"}  # the grid worker and the supervisors
    assert set(priorities) == {10}  # ahead of everything else in the outbox


async def test_outbox_rows_are_marked_sent(bot, transport):
    await bot.dispatcher.feed(resident_message("3号楼2单元电梯坏了，麻烦尽快修一下"))
    await transport.wait_for(2)
    for _ in range(50):
        async with bot.sessions() as session:
            statuses = (await session.scalars(select(OutboxMessage.status))).all()
        if statuses == ["sent", "sent"]:
            break
        await asyncio.sleep(0.05)
    assert statuses == ["sent", "sent"]
