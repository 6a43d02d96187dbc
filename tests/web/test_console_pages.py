"""Lists with filters and paging, the dashboard's rates and charts, broadcasts, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import update

from bot.events import utcnow
from storage import tickets
from storage.models import BroadcastSend, BroadcastSlot, Ticket
from tests.bot.loop_helpers import staff_says
from tests.web.conftest import login, report

FIVE = "西园5号楼业主群"


async def test_filters_and_overdue(client, web_bot):
    one = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    two = await report(web_bot, "晚上楼上装修噪音太大了，吵得睡不着", name="李大爷", group=FIVE)
    three = await report(web_bot, "小区路灯不亮了，晚上很黑", name="陈小姐", group=FIVE)
    async with web_bot.sessions.begin() as session:
        await session.execute(update(Ticket).where(Ticket.id == three).values(due_at=utcnow() - timedelta(hours=1)))
    await staff_says(web_bot, f"接单 #{one}")
    await login(client, "赵书记")

    async def ids(**params):
        data = await (await client.get("/api/v1/tickets", params=params)).json()
        return sorted(t["id"] for t in data["tickets"])

    assert await ids() == [one, two, three]
    assert await ids(status="in_progress") == [one]
    assert await ids(status="active") == [one, two, three]
    assert await ids(category="order") == [two]
    assert await ids(grid="g2") == [two, three]
    assert await ids(urgency="normal") == [one, two, three]
    assert await ids(overdue="1") == [three]
    html = await (await client.get("/tickets", params={"overdue": "1"})).text()
    assert "超时" in html and f'href="/tickets/{three}"' in html and f'href="/tickets/{one}"' not in html
    html = await (await client.get("/tickets", params={"category": "order"})).text()
    assert '<option value="order" selected>' in html


async def test_paging(client, web_bot, console_deps):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    async with web_bot.sessions.begin() as session:  # 22 more, written straight to the table
        first = await session.get(Ticket, 1)
        for i in range(22):
            await tickets.open_ticket(session, intent="request", category="repair", urgency="normal",
                                      text=f"第{i}个问题", keywords=[], group_id=first.group_id, grid_id="g1",
                                      reporter_id=first.reporter_id, assignee_id=None, source_message_id=None,
                                      now=utcnow(), due_at=utcnow() + timedelta(days=7))
    await login(client, "赵书记")
    first = await (await client.get("/tickets")).text()
    assert "共 23 条" in first and "第 1 / 2 页" in first and "下一页" in first and "上一页" not in first
    second = await (await client.get("/tickets", params={"page": "2"})).text()
    assert "第 2 / 2 页" in second and "上一页" in second
    assert second.count('<tr class=') == 3
    data = await (await client.get("/api/v1/tickets", params={"per_page": "10", "page": "3"})).json()
    assert data["pages"] == 3 and len(data["tickets"]) == 3


async def test_dashboard_shows_rates_counts_and_svg_charts(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "楼下垃圾桶满了好几天没人清理，太臭了，麻烦物业来处理一下", name="李大爷")
    await staff_says(web_bot, "办结 #1 已经修好了")
    await login(client, "赵书记")
    html = await (await client.get("/dashboard")).text()
    for word in ("响应率", "解决率", "满意率", "本周", "本月", "未办结", "其中超时"):
        assert word in html
    assert html.count("<svg") == 3 and "设施报修" in html and "环境卫生" in html
    assert "<script" not in html  # charts are drawn on the server
    stats = await (await client.get("/api/v1/stats", params={"period": "month"})).json()
    assert stats["counts"]["created"] == 2 and stats["counts"]["open_now"] == 1
    assert stats["by_category"] == {"repair": 1, "environment": 1}
    assert (await client.get("/api/v1/stats", params={"period": "year"})).status == 400


async def test_grid_workers_dashboard_counts_only_their_tickets(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "5栋楼道灯坏了", name="李大爷", group=FIVE)
    await login(client, "李强")
    stats = await (await client.get("/api/v1/stats", params={"period": "week"})).json()
    assert stats["counts"]["created"] == 1 and stats["by_grid"] == {"g2": 1}
    assert "您负责的网格" in await (await client.get("/dashboard")).text()


async def test_broadcasts_page_shows_schedules_and_history(client, web_bot):
    now = utcnow()
    async with web_bot.sessions.begin() as session:
        slot = BroadcastSlot(schedule="anti_fraud", slot_at=now - timedelta(days=1), status="queued", created_at=now)
        session.add(slot)
        await session.flush()
        session.add(BroadcastSend(slot_id=slot.id, schedule="anti_fraud", group_topic="西园3号楼业主群",
                                  tip_id="fraud-01", created_at=now))
    await login(client, "张敏")
    html = await (await client.get("/broadcasts")).text()
    assert "发送记录" in html and "西园3号楼业主群（fraud-01）" in html and "已发出" in html
    assert "anti_fraud" in html and "下次发送" in html  # the scheduler's own list


async def test_broadcasts_page_without_the_scheduler(client, web_bot, monkeypatch):
    import bot.web.console as console

    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(console.importlib, "import_module", missing)
    await login(client, "张敏")
    html = await (await client.get("/broadcasts")).text()
    assert "暂无广播计划" in html and "还没有发送过广播" in html


async def test_csv_export_for_a_date_range(client, web_bot, settings):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "=HYPERLINK(\"http://x\")楼道灯坏了", name="李大爷")
    await report(web_bot, "5栋楼道灯坏了", name="陈小姐", group=FIVE)
    async with web_bot.sessions.begin() as session:  # #1 was registered 40 days ago
        await session.execute(update(Ticket).where(Ticket.id == 1).values(created_at=utcnow() - timedelta(days=40)))
    await login(client, "张敏")
    today = utcnow().astimezone(settings.community.tz).date()
    response = await client.get("/export.csv", params={"start": (today - timedelta(days=7)).isoformat(),
                                                       "end": today.isoformat()})
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = (await response.read()).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0][:3] == ["工单号", "登记时间", "状态"]
    assert [r[0] for r in rows[1:]] == ["2"]  # #1 is older, #3 is 李强's grid
    assert rows[1][rows[0].index("原话")].startswith("'=HYPERLINK")  # no formula injection
    wide = await client.get("/export.csv", params={"start": (today - timedelta(days=60)).isoformat(),
                                                   "end": today.isoformat()})
    assert [r[0] for r in list(csv.reader(io.StringIO((await wide.read()).decode()[1:])))[1:]] == ["1", "2"]
    too_long = await client.get("/export.csv", params={"start": "2020-01-01", "end": today.isoformat()})
    assert too_long.status == 400
    assert "下载 CSV" in await (await client.get("/export")).text()


async def test_pages_are_usable_on_a_phone(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    for path in ("/tickets", "/tickets/1", "/dashboard", "/broadcasts", "/export", "/login"):
        html = await (await client.get(path)).text()
        assert 'name="viewport"' in html and "/static/console.css" in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing from outside
    css = await (await client.get("/static/console.css")).text()
    assert "@media (max-width: 760px)" in css


async def test_photos_are_served_only_from_the_data_folder(client, web_bot, settings, tmp_path):
    from storage.models import Attachment

    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    inside = tmp_path / "data" / "attachments" / "p1.jpg"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"not yours")
    async with web_bot.sessions.begin() as session:
        session.add(Attachment(ticket_id=number, message_id="m1", path=str(inside), size=12, created_at=utcnow()))
        session.add(Attachment(ticket_id=number, message_id="m2", path=str(outside), size=9, created_at=utcnow()))
    await login(client, "张敏")
    html = await (await client.get(f"/tickets/{number}")).text()
    assert "照片（2）" in html and f'src="/tickets/{number}/photos/1"' in html
    photo = await client.get(f"/tickets/{number}/photos/1")
    assert photo.status == 200 and photo.content_type == "image/jpeg" and await photo.read() == inside.read_bytes()
    assert (await client.get(f"/tickets/{number}/photos/2")).status == 404
    assert (await client.get(f"/tickets/{number + 1}/photos/1")).status == 404
    await login(client, "李强")  # another grid: not even the photo
    assert (await client.get(f"/tickets/{number}/photos/1")).status == 404
