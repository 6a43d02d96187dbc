"""Routing: grid workers in turn, category teams, and their webhook robots."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import GridBot
from tests.bot.loop_helpers import all_tickets, resident_says, said_in, settle
from tests.conftest import STAFF_GROUP, FakeTransport, make_settings, resident_message
from tests.webhooks.fake_servers import FakeWebhookServer

SECOND_WORKER = """
[[staff]]
name = "王芳"
role = "grid_worker"
grids = ["g1"]
"""


@pytest.fixture
async def robots():
    async with FakeWebhookServer() as server:
        yield server


def team_config(wecom, dingtalk) -> str:
    return f"""
[[staff]]
name = "物业王经理"
role = "grid_worker"

[[webhooks]]
name = "物业群机器人"
kind = "wecom"
url = "{wecom.url}"

[[webhooks]]
name = "钉钉值班群"
kind = "dingtalk"
url = "{dingtalk.url}"
secret = "{dingtalk.secret.get_secret_value()}"

[[teams]]
name = "物业服务中心"
members = ["物业王经理"]
categories = ["property"]
webhooks = ["物业群机器人", "钉钉值班群"]
"""


async def started(settings, classifier, transport=None) -> GridBot:
    bot = GridBot(settings, transport=transport or FakeTransport(), classifier=classifier)
    await bot.start(web_server=False)
    return bot


async def test_workers_of_one_grid_take_turns(tmp_path, classifier, reset_database):
    bot = await started(make_settings(tmp_path, SECOND_WORKER), classifier)
    try:
        for text in ["3号楼电梯坏了，麻烦修一下", "1号楼门口路灯不亮了，麻烦修一下",
                     "3号楼楼道的声控灯坏了，请帮忙修一下"]:
            await resident_says(bot, text, group="西园3号楼业主群" if "3号楼" in text else "西园1号楼业主群")
        alerts = [m for m in said_in(bot.transport, STAFF_GROUP) if m.text.startswith("【")]
        assert [a.mention_names for a in alerts] == [("张敏",), ("王芳",), ("张敏",)]
    finally:
        await bot.stop()


async def test_category_team_gets_the_ticket_and_its_robots_hear_of_it(tmp_path, classifier, robots, reset_database):
    wecom = robots.add_robot("wecom", name="物业群机器人")
    dingtalk = robots.add_robot("dingtalk", name="钉钉值班群", secret="SECtest-secret-123")
    bot = await started(make_settings(tmp_path, team_config(wecom, dingtalk)), classifier)
    try:
        await resident_says(bot, "物业费收了也不给打扫楼道，物业服务太差了，投诉！")
        ticket = (await all_tickets(bot))[0]
        assert ticket.category == "property" and ticket.team == "物业服务中心"
        alert = said_in(bot.transport, STAFF_GROUP)[0]
        assert alert.mention_names == ("物业王经理",)
        await settle(bot)
        assert len(robots.texts("wecom")) == 1 and f"#{ticket.id}" in robots.texts("wecom")[0]
        assert len(robots.texts("dingtalk")) == 1 and "物业服务太差了" in robots.texts("dingtalk")[0]
    finally:
        await bot.stop()


async def test_robots_still_get_alerts_while_wechat_is_down(tmp_path, classifier, robots, reset_database):
    wecom = robots.add_robot("wecom", name="物业群机器人")
    dingtalk = robots.add_robot("dingtalk", name="钉钉值班群", secret="SECtest-secret-123")
    transport = FakeTransport()
    transport.up = False
    bot = await started(make_settings(tmp_path, team_config(wecom, dingtalk)), classifier, transport)
    try:
        await bot.dispatcher.feed(resident_message("物业费收了也不给打扫楼道，物业服务太差了，投诉！"))
        bot.sender.wake()
        for _ in range(100):
            if robots.texts("wecom"):
                break
            await asyncio.sleep(0.05)
        assert robots.texts("wecom") and transport.sent == []
    finally:
        await bot.stop()


async def test_robot_outage_is_retried(tmp_path, classifier, robots, reset_database):
    wecom = robots.add_robot("wecom", name="物业群机器人")
    dingtalk = robots.add_robot("dingtalk", name="钉钉值班群", secret="SECtest-secret-123")
    robots.fail_next(1, status=502)
    bot = await started(make_settings(tmp_path, team_config(wecom, dingtalk)), classifier)
    try:
        await resident_says(bot, "物业费收了也不给打扫楼道，物业服务太差了，投诉！")
        for _ in range(100):  # the first 502 backs off 2 s
            await settle(bot)
            if len(robots.delivered) == 2:
                break
            await asyncio.sleep(0.1)
        assert sorted(d.robot for d in robots.delivered) == ["物业群机器人", "钉钉值班群"]
    finally:
        await bot.stop()


def test_team_members_must_be_staff(tmp_path):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"teams\[0\]\.members: '不存在' is not in \[\[staff\]\]"):
        make_settings(tmp_path, '[[teams]]\nname = "x"\nmembers = ["不存在"]\n')


async def test_staff_member_bound_while_running_is_mentioned_at_once(bot, transport):
    await bot.dispatcher.feed(resident_message("3号楼电梯坏了，麻烦尽快修一下", name="王阿姨", time=bot.clock()))
    await settle(bot)
    first = said_in(transport, STAFF_GROUP)[-1]
    assert first.mention_names == ("张敏",) and first.mention_ids == ()  # no chat identity known yet
    await bot.dispatcher.feed(resident_message("收到", name="张敏", group=STAFF_GROUP, time=bot.clock()))
    await bot.dispatcher.feed(resident_message("楼道的声控灯不亮了，晚上看不见，麻烦修一下", name="李大爷", time=bot.clock()))
    await settle(bot)
    second = said_in(transport, STAFF_GROUP)[-1]
    assert second.mention_names == ("张敏",) and second.mention_ids == ("wxid_张敏",)
