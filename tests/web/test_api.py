"""/api/v1 JSON, the Open311 GeoReport v2 endpoints, /metrics and /healthz."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from bot.events import utcnow
from bot.services import accounts
from tests.bot.loop_helpers import settle, staff_says
from tests.web.conftest import login, report


@pytest.fixture
async def token(web_bot, settings):
    async with web_bot.sessions.begin() as session:
        person = await accounts.staff_member(session, settings, "赵书记")
        return await accounts.issue_api_token(session, person, utcnow())


async def test_ticket_json_has_codes_names_and_timeline(client, web_bot, token):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下，我电话13812345678")
    await staff_says(web_bot, f"接单 #{number}")
    data = await (await client.get(f"/api/v1/tickets/{number}", headers={"Authorization": f"Bearer {token}"})).json()
    assert data["category"] == "repair" and data["category_zh"] == "设施报修"
    assert data["status"] == "in_progress" and data["status_zh"] == "处理中"
    assert data["assignee"] == "张敏" and data["reporters"] == ["王阿姨"] and data["grid"] == "g1"
    assert "13812345678" in data["text"]  # staff see the number in full
    assert [e["kind"] for e in data["events"]][:1] == ["created"] and data["events"][-1]["kind_zh"] == "接单"
    assert data["created_at"].endswith("+08:00")
    me = await (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["name"] == "赵书记" and me["role"] == "supervisor"


async def test_session_works_for_the_api_too(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    data = await (await client.get("/api/v1/tickets")).json()
    assert data["total"] == 1 and data["tickets"][0]["reporters"] == ["王阿姨"]


async def test_open311_services(client, token):
    services = await (await client.get("/open311/v2/services.json", params={"api_key": token})).json()
    codes = [s["service_code"] for s in services]
    assert "repair" in codes and "none" not in codes
    repair = next(s for s in services if s["service_code"] == "repair")
    assert repair["service_name"] == "设施报修" and repair["metadata"] is False and repair["type"] == "realtime"
    xml = ET.fromstring(await (await client.get("/open311/v2/services.xml", params={"api_key": token})).read())
    assert xml.tag == "services" and xml.find("service/service_code").text == codes[0]
    definition = await (await client.get("/open311/v2/services/repair.json", params={"api_key": token})).json()
    assert definition == {"service_code": "repair", "attributes": []}
    assert (await client.get("/open311/v2/services/nope.json", params={"api_key": token})).status == 404


async def test_open311_requests_hide_residents_and_mask_numbers(client, web_bot, token):
    one = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下，我电话13812345678")
    two = await report(web_bot, "5栋楼道灯坏了", name="李大爷", group="西园5号楼业主群")
    await staff_says(web_bot, f"办结 #{two} 灯已换好")
    await settle(web_bot)
    headers = {"Authorization": f"Bearer {token}"}
    rows = await (await client.get("/open311/v2/requests.json", headers=headers)).json()
    assert sorted(r["service_request_id"] for r in rows) == [str(one), str(two)]
    first = next(r for r in rows if r["service_request_id"] == str(one))
    assert first["status"] == "open" and first["service_code"] == "repair"
    assert "138****5678" in first["description"] and "13812345678" not in first["description"]
    assert "王阿姨" not in str(rows) and "李大爷" not in str(rows)
    assert first["requested_datetime"].endswith("+08:00") and first["address_id"] == "g1"
    closed = await (await client.get("/open311/v2/requests.json", headers=headers, params={"status": "closed"})).json()
    assert [r["service_request_id"] for r in closed] == [str(two)] and "灯已换好" in closed[0]["status_notes"]
    by_id = await (await client.get("/open311/v2/requests.json", headers=headers,
                                    params={"service_request_id": f"{one},{two}", "status": "closed"})).json()
    assert len(by_id) == 2  # explicit ids ignore the other filters
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert await (await client.get("/open311/v2/requests.json", headers=headers,
                                   params={"start_date": later})).json() == []
    single = ET.fromstring(await (await client.get(f"/open311/v2/requests/{one}.xml", headers=headers)).read())
    assert single.find("request/service_request_id").text == str(one)
    for bad in ({"start_date": "yesterday"}, {"status": "pending"}, {"service_code": "x"},
                {"service_request_id": "1 OR 1=1"}):
        response = await client.get("/open311/v2/requests.json", headers=headers, params=bad)
        assert response.status == 400 and (await response.json())[0]["code"] == 400
    assert (await client.get("/open311/v2/requests/999.json", headers=headers)).status == 404


async def test_metrics_in_prometheus_format(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await settle(web_bot)
    response = await client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    body = await response.text()
    for line in ("gridbot_messages_received_total 1.0", 'gridbot_tickets{state="open"} 1.0',
                 'gridbot_alerts_sent_total{channel="chat"} 1.0', "gridbot_broadcasts_sent_total 0.0",
                 'gridbot_send_failures_total{channel="chat"} 0.0', "gridbot_outbox_depth 0.0",
                 "gridbot_transport_connected 1.0"):
        assert line in body, line
    assert "# TYPE gridbot_messages_received_total counter" in body


async def test_metrics_count_failures_and_depth_while_disconnected(client, web_bot):
    web_bot.transport.up = False
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    body = await (await client.get("/metrics")).text()
    assert "gridbot_outbox_depth 2.0" in body and "gridbot_transport_connected 0.0" in body
    health = await client.get("/healthz")
    report_ = await health.json()
    assert health.status == 503 and report_["connected"] is False and report_["outbox_depth"] == 2
    web_bot.transport.up = True
    await settle(web_bot)
    body = await (await client.get("/metrics")).text()
    assert "gridbot_outbox_depth 0.0" in body


async def test_healthz(client):
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200 and body["database"] is True and body["connected"] is True


async def test_metrics_counters_never_go_down_when_old_rows_are_trimmed(client, web_bot):
    from sqlalchemy import delete

    from storage.models import InboxMessage, OutboxMessage

    def value(body: str, name: str) -> float:
        return float(next(line for line in body.splitlines() if line.startswith(name + " ")).split()[-1])

    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await settle(web_bot)
    body = await (await client.get("/metrics")).text()
    assert value(body, "gridbot_messages_received_total") == 1
    assert value(body, 'gridbot_messages_sent_total{channel="chat"}') == 2
    async with web_bot.sessions.begin() as session:  # what retention does to old rows
        await session.execute(delete(InboxMessage))
        await session.execute(delete(OutboxMessage))
    body = await (await client.get("/metrics")).text()
    assert value(body, "gridbot_messages_received_total") == 1
    assert value(body, 'gridbot_messages_sent_total{channel="chat"}') == 2
    await report(web_bot, "5栋楼道灯坏了", name="李大爷", group="西园5号楼业主群")
    await settle(web_bot)
    body = await (await client.get("/metrics")).text()
    assert value(body, "gridbot_messages_received_total") == 2
    assert value(body, 'gridbot_messages_sent_total{channel="chat"}') == 4
    assert value(body, 'gridbot_alerts_sent_total{channel="chat"}') == 2
