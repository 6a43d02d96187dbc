"""Console actions go through the same ticket services as the chat commands: residents hear back the same way."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot import texts
from storage.models import Ticket, TicketEvent
from tests.bot.loop_helpers import said_in, settle, staff_says
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP
from tests.web.conftest import csrf_of, login, report


async def act(client, number: int, action: str, text: str | None = None):
    token = await csrf_of(client, f"/tickets/{number}")
    data = {"_csrf": token}
    if text is not None:
        data["text"] = text
    response = await client.post(f"/tickets/{number}/{action}", data=data, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == f"/tickets/{number}"
    return await (await client.get(f"/tickets/{number}")).text()


async def get_ticket(bot, number: int) -> Ticket:
    async with bot.sessions() as session:
        return await session.get(Ticket, number)


async def test_resolve_in_console_tells_the_resident_like_the_chat_command(client, web_bot):
    chat = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    web = await report(web_bot, "小区路灯不亮了，晚上很黑", name="李大爷")
    await settle(web_bot)
    await staff_says(web_bot, f"办结 #{chat} 已经修好了")
    await login(client, "张敏")
    html = await act(client, web, "resolve", "已经修好了")
    assert f"#{web} 已办结，已通知居民并请其评价。" in html
    await settle(web_bot)
    notices = [m for m in said_in(web_bot.transport, RESIDENT_GROUP) if "已处理" in m.text]
    by_chat = next(m for m in notices if f"#{chat}" in m.text)
    by_web = next(m for m in notices if f"#{web}" in m.text)
    assert by_web.text == texts.resolved_for_resident(web, "已经修好了")
    assert by_web.text.replace(f"#{web}", "#N") == by_chat.text.replace(f"#{chat}", "#N")
    assert by_web.mention_names == ("李大爷",) and by_chat.mention_names == ("王阿姨",)
    t = await get_ticket(web_bot, web)
    assert t.status == "resolved" and t.resolution == "已经修好了" and t.resolved_at is not None


async def test_take_then_reassign_then_reopen(client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    html = await act(client, number, "take")
    assert "已由张敏接单" in html and "处理中" in html
    await settle(web_bot)
    assert any(m.text == texts.taken_for_resident(number, "张敏") for m in said_in(web_bot.transport, RESIDENT_GROUP))

    html = await act(client, number, "reassign", "李强")
    assert f"#{number} 已转派给李强。" in html
    await settle(web_bot)
    alert = said_in(web_bot.transport, STAFF_GROUP)[-1]
    assert alert.text == texts.reassigned_alert(number, "张敏", "李强") and alert.mention_names == ("李强",)

    # 李强 is in grid g2 but now the assignee: he sees it and can take it.
    await login(client, "李强")
    assert "已由李强接单" in await act(client, number, "take")
    await act(client, number, "resolve", "电梯已恢复运行")
    html = await act(client, number, "reopen", "居民说又坏了")
    assert f"#{number} 已重开。" in html
    await settle(web_bot)
    assert said_in(web_bot.transport, STAFF_GROUP)[-1].text == texts.reopened_alert(number, "居民说又坏了", "李强")
    t = await get_ticket(web_bot, number)
    assert t.status == "open" and t.resolved_at is None


async def test_recategorise_and_note_show_in_the_timeline(client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    html = await act(client, number, "recategorise", "safety")
    assert "类别已改为「安全隐患」" in html and "设施报修 → 安全隐患" in html
    html = await act(client, number, "note", "已联系电梯维保公司<b>明早</b>来")
    assert "已添加备注" in html
    assert "已联系电梯维保公司&lt;b&gt;明早&lt;/b&gt;来" in html  # staff notes are escaped too
    async with web_bot.sessions() as session:
        kinds = (await session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == number)
                                       .order_by(TicketEvent.id))).all()
    assert kinds[-2:] == ["recategorised", "note"]
    for label in ("登记", "通知工作群", "改类", "备注"):
        assert label in html


async def test_rules_refuse_politely_and_change_nothing(client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    html = await act(client, number, "reopen", "试试")
    assert "目前是「待接单」，不能重开" in html and 'class="flash error"' in html
    html = await act(client, number, "resolve", "   ")
    assert "请填写办结说明" in html
    html = await act(client, number, "reassign", "不存在的人")
    assert "工作人员名单里没有「不存在的人」" in html
    html = await act(client, number, "recategorise", "nonsense")
    assert "不认识的类别" in html
    assert (await get_ticket(web_bot, number)).status == "open"
    response = await client.post(f"/tickets/{number}/delete", data={"_csrf": await csrf_of(client, "/tickets")},
                                 allow_redirects=False)
    assert response.status == 404


async def test_ticket_page_shows_text_reporters_and_timeline(client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "3号楼2单元电梯又坏了，快来修", name="孙阿姨")  # joins as 附议
    await login(client, "张敏")
    html = await (await client.get(f"/tickets/{number}")).text()
    assert "3号楼2单元电梯坏了，麻烦尽快修一下" in html
    assert "王阿姨" in html and "孙阿姨" in html
    assert re.search(r"反映人（2）", html)
    assert "附议" in html and "命中：" in html
    for button in ("接单", "办结", "转派", "改类", "添加备注"):
        assert button in html
