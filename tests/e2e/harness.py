"""Drive the Node wechaty gateway (tests/e2e/gateway) and `gridbot run` as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from devtools import wechaty_gateway
from tests.conftest import ROOT, database_url

# Fixture ids (tests/e2e/gateway/fixtures/xiyuan.json).
ROOM_1 = "room-1@chatroom"
ROOM_3 = "room-3@chatroom"
ROOM_5 = "room-5@chatroom"
ROOM_DANCE = "room-dance@chatroom"  # not in config.toml
ROOM_STAFF = "room-staff@chatroom"
BOT_ID = "wxid_xiyuan_bot"
WANG = "wxid_wangayi"
LI = "wxid_lidaye"
LIU = "wxid_liunvshi"
ZHANGMIN = "wxid_zhangmin"


class Gateway(wechaty_gateway.Gateway):
    """The gateway with the shortcuts the tests use."""

    async def say(self, who: str, room: str | None, text: str, mentions: list[str] | None = None) -> str:
        body = {"from": who, "room": room, "text": text, "mentions": mentions or []}
        result = await self.call("POST", "/say", body)
        assert result.get("delivered", True), "the bot was not attached to the gateway"
        return result["message_id"]

    async def image(self, who: str, room: str, size: int) -> dict:
        return await self.call("POST", "/image", {"from": who, "room": room, "size": size})

    async def sent(self) -> list[dict]:
        return await self.call("GET", "/sent")

    async def wait_sent(self, predicate: Callable[[list[dict]], bool], timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            sent = await self.sent()
            if predicate(sent):
                return sent
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the bot sent: {json.dumps(sent, ensure_ascii=False)}")
            await asyncio.sleep(0.1)


async def start_gateway() -> Gateway:
    return await Gateway.start()


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process, data_dir: Path):
        self.process = process
        self.data_dir = data_dir

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 20)


async def start_bot(tmp_path: Path, gateway: Gateway, **env: str) -> BotProcess:
    data_dir = tmp_path / "data"
    environment = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        GRIDBOT_TRANSPORT_KIND="wechaty",
        GRIDBOT_TRANSPORT_HEARTBEAT_SECONDS="2",
        WECHATY_PUPPET_SERVICE_ENDPOINT=gateway.endpoint,
        WECHATY_PUPPET_SERVICE_TOKEN=gateway.token,
        GRIDBOT_STORAGE_URL=database_url(tmp_path),
        GRIDBOT_STORAGE_DATA_DIR=str(data_dir),
        GRIDBOT_WEB_PORT="0",
        GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS="0",
        GRIDBOT_OUTBOX_POLL_SECONDS="0.1",
    )
    environment.update(env)
    with open(tmp_path / "bot.log", "ab") as log:  # the child keeps its own copy of the handle
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(ROOT / "config.toml"),
            cwd=tmp_path, env=environment, stdout=asyncio.subprocess.PIPE, stderr=log,
        )
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert "已启动" in line.decode(), line
    await gateway.wait_attached()
    return BotProcess(process, data_dir)


def ticket_number(text: str) -> str:
    match = re.search(r"#(\d+)", text)
    assert match, text
    return match.group(1)
