"""`gridbot broadcast send --now` queues through the shared database; the running bot delivers it."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import ROOT, database_url
from tests.e2e.harness import ROOM_1, ROOM_3, ROOM_5, ROOM_DANCE, ROOM_STAFF, start_bot

NO_QUIET_HOURS = {"GRIDBOT_BROADCAST_QUIET_START": "00:00", "GRIDBOT_BROADCAST_QUIET_END": "00:00"}


async def test_send_now_reaches_every_resident_group_and_not_staff(tmp_path, gateway, reset_database):
    bot = await start_bot(tmp_path, gateway, **NO_QUIET_HOURS)
    try:
        env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDBOT_STORAGE_URL=database_url(tmp_path), **NO_QUIET_HOURS)
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "broadcast", "send", "--now", "anti_fraud",
            "--config", str(ROOT / "config.toml"), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 0, err.decode()
        assert "已排队 3 条" in out.decode()
        sent = await gateway.wait_sent(lambda s: len(s) >= 3, timeout=30)
        await asyncio.sleep(1)
        sent = await gateway.sent()
        assert sorted(m["room"] for m in sent) == sorted([ROOM_1, ROOM_3, ROOM_5])
        assert all(m["text"].startswith("【防诈骗提醒】") for m in sent)
        assert not {ROOM_STAFF, ROOM_DANCE} & {m["room"] for m in sent}
    finally:
        await bot.stop()
