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
from typing import Any, Callable

import aiohttp

from tests.conftest import ROOT, database_url

GATEWAY_DIR = ROOT / "tests" / "e2e" / "gateway"

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


class Gateway:
    """A running gateway and its HTTP control API."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]):
        self.process = process
        self.puppet_port = info["puppet_port"]
        self.token = info["token"]
        self.control = f"http://127.0.0.1:{info['control_port']}"
        self.http = aiohttp.ClientSession()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.puppet_port}"

    async def call(self, method: str, path: str, body: dict | None = None) -> Any:
        async with self.http.request(method, self.control + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                raise AssertionError(f"{method} {path} -> {response.status} {data}")
            return data

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

    async def wait_attached(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            health = await self.call("GET", "/health")
            if health.get("logged_in") and health.get("stream_attached"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never attached: {health}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.http.close()
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()


async def start_gateway() -> Gateway:
    process = await asyncio.create_subprocess_exec(
        "node", "server.js", "--exit-on-stdin-close", "--log-level", "warn",
        cwd=GATEWAY_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line:
        raise RuntimeError("the gateway did not start (run `npm ci` in tests/e2e/gateway)")
    return Gateway(process, json.loads(line))


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
