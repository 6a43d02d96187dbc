"""Close the loop: staff act in chat, residents hear back and rate, with a frozen clock."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import GridBot
from storage.models import TicketEvent
from tests.bot.loop_helpers import all_tickets, resident_says, said_in, said_to, staff_says, ticket
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP


@pytest.fixture
async def bot(settings, transport, classifier, clock, reset_database):
    instance = GridBot(settings, transport=transport, classifier=classifier, clock=clock)
    await instance.start(web_server=False)
    yield instance
    await instance.stop()


REPORT = "3号楼2单元电梯坏了，麻烦尽快修一下"


async def test_take_resolve_and_satisfied(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "接单 #1")
    told = said_in(transport, RESIDENT_GROUP)[-1]
    assert "网格员张敏已接单" in told.text and told.mention_names == ("王阿姨",)
    assert said_in(transport, STAFF_GROUP)[-1].text.startswith("#1 已由张敏接单")
    assert (await ticket(bot)).status == "in_progress"
    assert (await ticket(bot)).first_response_at is not None

    await staff_says(bot, "办结 #1 已联系电梯公司更换了门机，恢复运行")
    told = said_in(transport, RESIDENT_GROUP)[-1]
    assert "已联系电梯公司更换了门机" in told.text and "满意请回复" in told.text
    assert (await ticket(bot)).status == "resolved"

    await resident_says(bot, "满意，谢谢")
    assert "感谢您的评价" in said_in(transport, RESIDENT_GROUP)[-1].text
    done = await ticket(bot)
    assert done.status == "closed" and done.satisfaction == "satisfied"


async def test_dissatisfied_reopens_and_alerts_staff(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "接单 1")
    await staff_says(bot, "办结 #1 已修好")
    await resident_says(bot, "不满意，电梯还是停在一楼不动")
    reopened = await ticket(bot)
    assert reopened.status == "open" and reopened.satisfaction == "dissatisfied"
    alert = said_in(transport, STAFF_GROUP)[-1]
    assert "#1 重开" in alert.text and "电梯还是停在一楼不动" in alert.text
    assert alert.mention_names == ("张敏",)
    assert "重新交给网格员" in said_in(transport, RESIDENT_GROUP)[-1].text


async def test_quoting_an_alert_and_writing_the_verb(bot, transport):
    await resident_says(bot, REPORT)
    alert = said_in(transport, STAFF_GROUP)[0].text
    await staff_says(bot, f"「西园小助手：{alert}」\n- - - - - - - - - - - - - - -\n接单")
    assert (await ticket(bot)).status == "in_progress"


@pytest.mark.parametrize("form", ["接单 #1", "接单#1", "接单 1", "接单 ＃1", "接单 #１"])
async def test_number_forms(bot, form):
    await resident_says(bot, REPORT)
    await staff_says(bot, form)
    assert (await ticket(bot)).status == "in_progress"


async def test_only_configured_staff_can_act(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "办结 #1 修好了", name="路人甲")
    assert "只有社区工作人员" in said_in(transport, STAFF_GROUP)[-1].text
    await resident_says(bot, "办结 #1 我自己修好了")  # a resident in their group
    assert (await ticket(bot)).status == "open"
    async with bot.sessions() as session:
        kinds = (await session.scalars(select(TicketEvent.kind))).all()
    assert "resolved" not in kinds


async def test_a_resident_named_like_staff_is_not_staff(bot, transport):
    await resident_says(bot, REPORT)
    await resident_says(bot, "办结 #1 好了", name="张敏")  # a resident who calls themself 张敏
    assert (await ticket(bot)).status == "open"


async def test_bad_commands_get_a_hint(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "办结 #1")
    assert "处理说明" in said_in(transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "接单 #99")
    assert "没有找到工单 #99" in said_in(transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "帮助")
    assert "接单" in said_in(transport, STAFF_GROUP)[-1].text and "办结" in said_in(transport, STAFF_GROUP)[-1].text


async def test_reassign_show_note_recategorise_and_todo(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "转派 #1 李强")
    alert = next(m for m in said_in(transport, STAFF_GROUP) if m.text.startswith("【#1 转派】"))
    assert "李强" in alert.text and alert.mention_names == ("李强",)
    assert said_in(transport, STAFF_GROUP)[-1].text == "#1 已转派给李强。"
    await staff_says(bot, "备注 #1 电梯公司下午两点到")
    await staff_says(bot, "改类 #1 安全")
    assert (await ticket(bot)).category == "safety"
    await staff_says(bot, "查询 #1")
    shown = said_in(transport, STAFF_GROUP)[-1].text
    assert "#1" in shown and "王阿姨" in shown and "转派" in shown and "电梯公司下午两点到" in shown
    await staff_says(bot, "待办", name="李强")
    assert "#1" in said_in(transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "待办", name="赵书记")  # a supervisor sees everything
    assert "#1" in said_in(transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "待办", name="张敏")
    assert "没有待办" in said_in(transport, STAFF_GROUP)[-1].text


async def test_staff_can_work_privately(bot, transport):
    await resident_says(bot, REPORT)
    await staff_says(bot, "接单 #1", group=STAFF_GROUP)  # binds 张敏's chat id in the staff group
    await staff_says(bot, "办结 #1 已修好", group=None)  # then privately
    assert said_to(transport, "wxid_张敏")[-1].text.startswith("#1 已办结")
    assert (await ticket(bot)).status == "resolved"


async def test_resident_status_and_withdraw(bot, transport):
    await resident_says(bot, REPORT)
    await resident_says(bot, "进度")
    assert "#1" in said_in(transport, RESIDENT_GROUP)[-1].text and "待接单" in said_in(transport, RESIDENT_GROUP)[-1].text
    await resident_says(bot, "撤销 #1", name="李大爷")
    assert "不是您登记的" in said_in(transport, RESIDENT_GROUP)[-1].text
    await resident_says(bot, "撤销 #1")
    assert (await ticket(bot)).status == "cancelled"
    assert "#1 已撤销" in said_in(transport, STAFF_GROUP)[-1].text


async def test_duplicate_report_joins_as_second_reporter(bot, transport):
    await resident_says(bot, REPORT)
    await resident_says(bot, "3号楼的电梯又不动了，赶紧来修吧", name="李大爷")
    assert len(await all_tickets(bot)) == 1
    assert "附议" in said_in(transport, RESIDENT_GROUP)[-1].text
    assert "#1 附议" in said_in(transport, STAFF_GROUP)[-1].text
    await staff_says(bot, "接单 #1")
    told = said_in(transport, RESIDENT_GROUP)[-1]
    assert set(told.mention_names) == {"王阿姨", "李大爷"}  # every reporter gets the same notice


async def test_a_resident_repeating_never_opens_a_second_ticket(bot, transport):
    for text in [REPORT, "电梯还没修吗", "3号楼电梯坏了！！！", "电梯到底什么时候修"]:
        await resident_says(bot, text)
    assert len(await all_tickets(bot)) == 1


async def test_same_fault_in_another_building_is_another_ticket(bot, transport):
    await resident_says(bot, REPORT)
    await resident_says(bot, "1号楼电梯坏了，麻烦修一下", name="李大爷")
    assert len(await all_tickets(bot)) == 2


async def test_duplicate_window_closes(bot, transport, clock):
    await resident_says(bot, REPORT)
    clock.advance(hours=25)
    await resident_says(bot, "3号楼电梯又坏了，麻烦修一下", name="李大爷")
    assert len(await all_tickets(bot)) == 2


async def test_group_replies_mask_numbers_staff_keep_them(bot, transport):
    await resident_says(bot, "3号楼2单元502家里水管漏水了，麻烦来修，电话13812345678")
    alert = said_in(transport, STAFF_GROUP)[0].text
    assert "13812345678" in alert and "502" in alert
    await staff_says(bot, "办结 #1 已上门维修502室，师傅电话13987654321")
    told = said_in(transport, RESIDENT_GROUP)[-1].text
    assert "13987654321" not in told and "139****4321" in told and "502室" not in told
    assert "13987654321" in (await ticket(bot)).resolution


async def test_gas_smell_gets_gas_advice(bot, transport):
    await resident_says(bot, "5号楼楼道里好大一股煤气味，是不是漏气了", name="陈小姐", group="西园5号楼业主群")
    reply = said_in(transport, "西园5号楼业主群")[0].text
    assert "关闭燃气总阀" in reply and "不要开关电器" in reply and "打开门窗" in reply


async def test_unknown_command_gets_the_short_help(bot, transport):
    await staff_says(bot, "接单 #1", group=STAFF_GROUP)  # binds 张敏 in the staff group
    await staff_says(bot, "关闭一下那个工单", group=None)  # privately: not a command
    answer = said_to(transport, "wxid_张敏")[-1].text
    assert answer.startswith("没看懂这条命令") and "接单" in answer and "办结" in answer
    await staff_says(bot, "今天谁值班？")  # chatting among staff in the group: the bot stays out of it
    assert not said_in(transport, STAFF_GROUP)[-1].text.startswith("没看懂")
