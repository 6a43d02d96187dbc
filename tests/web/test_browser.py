"""In a real browser (Debian's chromium via Playwright): a resident reports in the sandbox chat, staff log in
to the console, see the ticket, resolve it, and the resident's notice appears in the sandbox chat.

Screenshots go to the test's folder; with GRIDBOT_SCREENSHOTS=1 they also replace docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.app import GridBot
from bot.events import utcnow
from bot.services import accounts
from bot.transports.sandbox import SandboxTransport
from tests.conftest import RESIDENT_GROUP, ROOT, STAFF_GROUP, make_settings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
PASSWORD = "zhangmin-browser-1"
SCREENSHOTS = ROOT / "docs" / "screenshots"

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it: apt-get install -y chromium)")
expect = playwright_api.expect

# Earlier reports, so the dashboard has something to draw.
BACKGROUND = [
    ("西园1号楼业主群", "刘大姐", "楼下垃圾桶满了好几天没人清理，太臭了，麻烦物业来处理一下"),
    ("西园5号楼业主群", "李大爷", "晚上楼上装修噪音太大了，吵得睡不着"),
    ("西园5号楼业主群", "陈小姐", "小区里有人在楼道给电动车充电，太危险了"),
    ("西园1号楼业主群", "周先生", "物业保安态度很差，门口也没人值班，物业费白交了"),
]


@pytest.fixture
async def live_bot(tmp_path, classifier, reset_database):
    settings = make_settings(tmp_path, storage={"data_dir": tmp_path / "data"})
    bot = GridBot(settings, transport=SandboxTransport(settings), classifier=classifier)
    await bot.start(web_server=True)
    async with bot.sessions.begin() as session:
        person = await accounts.staff_member(session, settings, "张敏")
        await accounts.set_password(session, person, PASSWORD, utcnow())
    yield bot
    await bot.stop()


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        await instance.close()


def keep(shot: Path) -> None:
    if os.environ.get("GRIDBOT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / shot.name)


async def say(page, topic: str, text: str) -> None:
    window = page.locator(f'section.window[data-topic="{topic}"]')
    await window.locator("input[name=text]").fill(text)
    await window.locator("button[type=submit]").click()


async def test_resident_reports_staff_resolve_in_console_resident_hears_back(live_bot, browser, tmp_path):
    base = live_bot.base_url
    for i, (topic, name, text) in enumerate(BACKGROUND):
        await live_bot.transport.receive({"id": f"bg{i}", "group": topic, "name": name, "text": text})
    # Staff answer two of them in the chat, and one resident rates the work.
    for i, (name, text) in enumerate([("张敏", "接单 #1"), ("张敏", "办结 #1 垃圾已清运，桶也消毒了"),
                                      ("李强", "接单 #2")]):
        await live_bot.transport.receive({"id": f"st{i}", "group": STAFF_GROUP, "name": name, "text": text})
    await live_bot.transport.receive({"id": "rate", "group": "西园1号楼业主群", "name": "刘大姐", "text": "满意"})

    # A resident in the sandbox chat.
    resident = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await resident.goto(f"{base}/sandbox")
    await expect(resident.locator("#status")).to_have_text("已连接")
    await resident.fill("#who", "王阿姨")
    await say(resident, RESIDENT_GROUP, "3号楼2单元电梯坏了，麻烦尽快修一下<b>急</b>")
    group = resident.locator(f'section.window[data-topic="{RESIDENT_GROUP}"]')
    ack = group.locator(".msg.bot .bubble").filter(has_text="已登记")
    await expect(ack).to_contain_text("@王阿姨")
    number = int((await ack.inner_text()).split("#", 1)[1].split("（", 1)[0])
    await expect(resident.locator(f'section.window[data-topic="{STAFF_GROUP}"] .msg.bot .bubble')
                 .filter(has_text=f"#{number}")).to_contain_text("@张敏")

    # Staff in the console: the login page first.
    staff = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await staff.goto(f"{base}/tickets")
    await expect(staff).to_have_url(f"{base}/login?next=/tickets")
    await staff.fill("input[name=name]", "张敏")
    await staff.fill("input[name=password]", PASSWORD)
    await staff.click("button:has-text('登录')")
    await expect(staff).to_have_url(f"{base}/tickets")
    row = staff.locator("table.tickets tr").filter(has_text=f"#{number}")
    await expect(row).to_contain_text("3号楼2单元电梯坏了")
    await expect(row).to_contain_text("<b>急</b>")  # shown as text, not markup
    await expect(row).to_contain_text("待接单")

    await staff.goto(f"{base}/dashboard")
    await expect(staff.locator("h1")).to_contain_text("统计")
    await expect(staff.locator("svg.chart")).to_have_count(3)
    shot = tmp_path / "dashboard.png"
    await staff.screenshot(path=str(shot), full_page=True)
    keep(shot)

    await staff.goto(f"{base}/tickets")
    await staff.click(f"a[href='/tickets/{number}'] >> nth=0")
    await expect(staff.locator("h1")).to_contain_text(f"工单 #{number}")
    await expect(staff.locator(".resident-text")).to_have_text("3号楼2单元电梯坏了，麻烦尽快修一下<b>急</b>")
    await expect(staff.locator(".timeline")).to_contain_text("登记")
    await staff.fill("form[action$='/resolve'] textarea[name=text]", "电梯已修好，恢复运行了")
    shot = tmp_path / "ticket.png"
    await staff.screenshot(path=str(shot), full_page=True)
    keep(shot)
    await staff.click("form[action$='/resolve'] button[type=submit]")
    await expect(staff.locator(".flash")).to_contain_text(f"#{number} 已办结，已通知居民并请其评价。")
    await expect(staff.locator("h1 .status")).to_have_text("已办结，待评价")
    await expect(staff.locator(".timeline")).to_contain_text("办结：电梯已修好，恢复运行了")

    # The resident sees the notice in the group, like after 办结 in WeChat.
    notice = group.locator(".msg.bot .bubble").filter(has_text="电梯已修好，恢复运行了")
    await expect(notice).to_contain_text(f"@王阿姨 您反映的问题（#{number}）已处理")
    await expect(notice).to_contain_text("满意请回复")

    # And on a phone, the list is readable (one card per ticket).
    phone = await (await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                             is_mobile=True, has_touch=True)).new_page()
    await phone.goto(f"{base}/login")
    await phone.fill("input[name=name]", "张敏")
    await phone.fill("input[name=password]", PASSWORD)
    await phone.click("button:has-text('登录')")
    await expect(phone.locator("table.tickets")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot = tmp_path / "tickets-phone.png"
    await phone.screenshot(path=str(shot), full_page=False)
    keep(shot)
