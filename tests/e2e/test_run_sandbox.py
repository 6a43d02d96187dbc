"""`gridbot run` as a real process: the sandbox page answers, SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp

from tests.conftest import RESIDENT_GROUP, ROOT, STAFF_GROUP, database_url


async def start_bot(tmp_path, extra_env=None):
    env = dict(os.environ, GRIDBOT_WEB_PORT="0", GRIDBOT_STORAGE_URL=database_url(tmp_path),
               PYTHONPATH=str(ROOT), **(extra_env or {}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(ROOT / "config.toml"),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    match = re.search(r"(http://\S+/sandbox)", line.decode())
    assert match, line
    return process, match.group(1)


async def test_run_serves_the_sandbox_and_answers_a_report(tmp_path, reset_database):
    process, url = await start_bot(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
                assert RESIDENT_GROUP in await response.text()
            async with http.ws_connect(url + "/ws") as ws:
                await ws.receive_json()
                await ws.send_json({"type": "say", "id": "e2e-1", "group": RESIDENT_GROUP, "name": "王阿姨",
                                    "text": "3号楼2单元电梯坏了，麻烦尽快修一下"})
                bot_said = {}
                while len(bot_said) < 2:
                    frame = await asyncio.wait_for(ws.receive_json(), 15)
                    if frame.get("is_bot"):
                        bot_said[frame["window"]] = frame["text"]
        assert re.search(r"#\d+", bot_said[RESIDENT_GROUP]) and bot_said[RESIDENT_GROUP].startswith("@王阿姨")
        assert "3号楼2单元电梯坏了" in bot_said[STAFF_GROUP]
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
