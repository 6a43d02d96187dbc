"""SIGKILL in the middle of a burst of 1,000 messages: after a restart nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp
from sqlalchemy import func, select

from storage.db import create_engine, session_factory
from storage.models import InboxMessage, OutboxMessage, Ticket, TicketReporter
from tests.conftest import ROOT, database_url

GROUPS = ["西园1号楼业主群", "西园3号楼业主群", "西园5号楼业主群"]
CHAT = ["大家早上好", "收到，谢谢", "今天天气真好", "好的👍"]
REPORTS = ["电梯坏了，麻烦修一下", "门口路灯不亮了，请物业处理", "楼道里堆满了杂物，请清理一下", "水管漏水了，麻烦来看看"]


async def start(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDBOT_WEB_PORT="0", GRIDBOT_STORAGE_URL=database_url(tmp_path),
               GRIDBOT_STORAGE_DATA_DIR=str(tmp_path / "data"), GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS="0",
               GRIDBOT_OUTBOX_PER_ACCOUNT_PER_MINUTE="100000", GRIDBOT_OUTBOX_POLL_SECONDS="0.1")
    with open(tmp_path / "bot.log", "ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(ROOT / "config.toml"), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=log)
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    return process, re.search(r"(http://\S+/sandbox)", line).group(1)


def message(i: int) -> dict:
    group = GROUPS[i % 3]
    text = f"{group[2]}号楼{REPORTS[(i // 4) % 4]}（{i}）" if i % 4 == 3 else f"{CHAT[i % 4]}（{i}）"
    return {"type": "say", "id": f"burst-{i}", "group": group, "name": f"居民{i % 40}", "text": text}


async def stored_at_least(sessions, count: int, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with sessions() as session:
            if await session.scalar(select(func.count()).select_from(InboxMessage)) >= count:
                return
        assert asyncio.get_running_loop().time() < deadline, f"fewer than {count} messages stored"
        await asyncio.sleep(0.005)


async def test_sigkill_mid_burst_loses_and_doubles_nothing(tmp_path, reset_database):
    process, url = await start(tmp_path)
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(url + "/ws") for _ in range(10)]
        for ws in sockets:
            await ws.receive_json()

        async def burst(k: int) -> None:
            for i in range(k, 1000, 10):
                await sockets[k].send_json(message(i))

        engine = create_engine(database_url(tmp_path))
        sessions = session_factory(engine)
        sending = asyncio.gather(*(burst(k) for k in range(10)), return_exceptions=True)
        # Killed once part of the burst is in (a fixed wait is too long when the bot is quick).
        try:
            await stored_at_least(sessions, 100)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        await sending
        for ws in sockets:
            await ws.close()

    try:
        async with sessions() as session:
            stored_before = await session.scalar(select(func.count()).select_from(InboxMessage))
        assert 0 < stored_before < 1000, stored_before  # killed mid-burst

        process, url = await start(tmp_path)  # the restart finishes what was stored
        try:
            for _ in range(300):
                async with sessions() as session:
                    left = await session.scalar(select(func.count()).select_from(InboxMessage)
                                                .where(InboxMessage.status != "processed"))
                    owed = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                                .where(OutboxMessage.status != "sent"))
                if left == 0 and owed == 0:
                    break
                await asyncio.sleep(0.1)
            assert (left, owed) == (0, 0)
            async with sessions() as session:
                stored = (await session.scalars(select(InboxMessage.message_id))).all()
                assert len(stored) == stored_before
                for message_id in stored:
                    i = int(message_id.rsplit("-", 1)[1])
                    if i % 4 != 3:
                        continue
                    # Every stored report is on a ticket (its own, or one it joined as 附议) — or its
                    # resident had already reported that problem and was answered instead.
                    found = await session.scalar(select(func.count()).select_from(TicketReporter).where(
                        TicketReporter.message_id == message_id))
                    assert found == 1 or await _repeated_reporter(session, message_id), message_id
                sources = (await session.scalars(select(Ticket.source_message_id))).all()
                assert len(sources) == len(set(sources))  # no ticket opened twice for one message
                keys = (await session.scalars(select(OutboxMessage.dedupe_key))).all()
                assert len(keys) == len(set(keys))
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
    finally:
        await engine.dispose()


async def _repeated_reporter(session, message_id: str) -> bool:
    """A resident repeating a problem they already reported: answered, no new reporter row (by design)."""
    i = int(message_id.rsplit("-", 1)[1])
    name = f"居民{i % 40}"
    return bool(await session.scalar(select(func.count()).select_from(TicketReporter).where(
        TicketReporter.display_name == name)))
