"""The sandbox page and its WebSocket, through aiohttp's test client and the real dispatcher."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import GridBot
from bot.transports.sandbox import SandboxTransport
from bot.web.app import create_web_app
from tests.conftest import RESIDENT_GROUP, STAFF_GROUP


@pytest.fixture
async def sandbox_bot(settings, classifier, reset_database):
    bot = GridBot(settings, transport=SandboxTransport(settings), classifier=classifier)
    await bot.start(web_server=False)
    yield bot
    await bot.stop()


@pytest.fixture
async def client(aiohttp_client, sandbox_bot):
    app = create_web_app(community="西园社区", health=sandbox_bot.health, sandbox_transport=sandbox_bot.transport)
    return await aiohttp_client(app)


async def receive_until(ws, predicate, timeout: float = 10.0) -> list[dict]:
    seen = []

    async def _loop():
        while True:
            frame = await ws.receive_json()
            seen.append(frame)
            if predicate(seen):
                return

    await asyncio.wait_for(_loop(), timeout)
    return seen


async def test_page_shows_every_configured_group(client, settings):
    response = await client.get("/sandbox")
    assert response.status == 200
    html = await response.text()
    for group in settings.groups:
        assert group.topic in html
    assert "张敏" in html  # staff can be picked as an identity
    assert 'name="viewport"' in html  # usable on a phone


async def test_root_redirects_to_the_sandbox(client):
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/sandbox"


async def test_report_in_sandbox_gets_reply_and_staff_alert(client):
    ws = await client.ws_connect("/sandbox/ws")
    welcome = await ws.receive_json()
    assert welcome["type"] == "welcome" and welcome["bot"] == "西园小助手"
    await ws.send_json({"type": "say", "id": "t1", "group": RESIDENT_GROUP, "name": "王阿姨",
                        "text": "3号楼2单元电梯坏了，麻烦尽快修一下"})

    def done(frames):
        bot_frames = [f for f in frames if f.get("is_bot")]
        return len(bot_frames) >= 2

    frames = await receive_until(ws, done)
    mine = [f for f in frames if f["type"] == "message" and not f["is_bot"]]
    assert mine[0]["window"] == RESIDENT_GROUP and mine[0]["from"] == "王阿姨"
    reply = next(f for f in frames if f.get("is_bot") and f["window"] == RESIDENT_GROUP)
    alert = next(f for f in frames if f.get("is_bot") and f["window"] == STAFF_GROUP)
    assert reply["text"].startswith("@王阿姨 ") and "#1" in reply["text"]
    assert "#1" in alert["text"] and "王阿姨" in alert["text"] and "命中：" in alert["text"]
    assert alert["text"].startswith("@张敏 ")
    await ws.close()


async def test_second_page_sees_the_conversation_and_history(client):
    first = await client.ws_connect("/sandbox/ws")
    await first.receive_json()
    second = await client.ws_connect("/sandbox/ws")
    await second.receive_json()
    await first.send_json({"type": "say", "id": "t2", "group": RESIDENT_GROUP, "name": "李大爷",
                           "text": "楼下垃圾桶满了好几天没人清理，太臭了，麻烦物业来处理一下"})
    await receive_until(second, lambda fs: sum(1 for f in fs if f.get("is_bot")) >= 2)
    late = await client.ws_connect("/sandbox/ws")
    welcome = await late.receive_json()
    assert any("李大爷" == b["from"] for b in welcome["history"][RESIDENT_GROUP])
    assert welcome["history"][STAFF_GROUP]
    for ws in (first, second, late):
        await ws.close()


async def test_chit_chat_gets_no_bot_answer(client):
    ws = await client.ws_connect("/sandbox/ws")
    await ws.receive_json()
    await ws.send_json({"type": "say", "id": "t3", "group": RESIDENT_GROUP, "name": "陈小姐", "text": "大家早上好呀😊"})
    echo = await ws.receive_json()
    assert echo["from"] == "陈小姐"
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.receive_json(), 0.5)
    await ws.close()


async def test_bad_frames_get_a_chinese_error_and_change_nothing(client):
    ws = await client.ws_connect("/sandbox/ws")
    await ws.receive_json()
    await ws.send_str("not json")
    assert (await ws.receive_json())["text"] == "消息格式不对"
    await ws.send_json({"type": "say", "group": RESIDENT_GROUP, "name": "", "text": "电梯坏了"})
    assert (await ws.receive_json())["text"] == "请先填写您的称呼"
    await ws.send_json({"type": "say", "group": "不存在的群", "name": "王阿姨", "text": "电梯坏了"})
    assert (await ws.receive_json())["text"] == "没有这个群"
    await ws.close()


async def test_healthz_reports_database_and_outbox(client):
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["database"] is True and body["connected"] is True and body["outbox_depth"] == 0


async def test_private_chat_with_the_bot(client):
    ws = await client.ws_connect("/sandbox/ws")
    await ws.receive_json()
    await ws.send_json({"type": "hello", "name": "刘女士"})
    welcome = await ws.receive_json()
    assert welcome["me"] == "direct:sandbox:刘女士"
    await ws.send_json({"type": "say", "id": "p1", "group": None, "name": "刘女士", "text": "你好，电梯坏了"})
    frames = await receive_until(ws, lambda fs: any(f.get("is_bot") for f in fs))
    answer = next(f for f in frames if f.get("is_bot"))
    assert answer["window"] == "direct:sandbox:刘女士" and "业主群" in answer["text"]
    await ws.close()


async def test_page_has_a_private_window(client):
    html = await (await client.get("/sandbox")).text()
    assert 'id="window-private"' in html and "私聊西园小助手" in html
