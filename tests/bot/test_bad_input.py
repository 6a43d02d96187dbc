"""Odd messages never crash the bot, lose nothing, and the bot keeps answering."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st
from sqlalchemy import select

from storage import inbox
from storage.models import InboxMessage
from tests.bot.loop_helpers import all_tickets, resident_says, said_in, settle
from tests.conftest import RESIDENT_GROUP, ROOT, STAFF_GROUP, resident_message

XML_CARD = ('<?xml version="1.0"?><msg><appmsg appid="" sdkver="0"><title>【转发】小区团购群</title>'
            '<des>点击查看</des><type>5</type><url>https://example.com/a?b=1&amp;c=2</url></appmsg></msg>')

ODD = [
    "",
    "   \n\t ",
    "😀😀😀🙏🙏",
    "[捂脸][捂脸][强]",
    "\x00\x00电梯\x00坏了",
    "电梯坏了\ud800麻烦修一下",
    XML_CARD,
    "@西园小助手\u2005",
    "http://t.cn/abc?x=1 https://example.com",
]


async def test_odd_messages_never_crash_and_nothing_is_left_unprocessed(bot, transport):
    for text in ODD:
        await bot.dispatcher.feed(resident_message(text))
    huge = "1号楼路灯坏了，" * 12_500  # 100,000 characters
    await bot.dispatcher.feed(resident_message(huge, name="张先生", group="西园1号楼业主群"))
    for kind in ("other", "url", "file", "image"):
        await bot.dispatcher.feed(resident_message("", kind=kind))
    await bot.dispatcher.feed(resident_message("", kind="recalled", recalled_id="no-such-message"))
    await bot.dispatcher.feed(resident_message("", kind="join"))
    await settle(bot)
    async with bot.sessions() as session:
        statuses = (await session.scalars(select(InboxMessage.status))).all()
    assert statuses and set(statuses) == {"processed"}
    # The NUL one became a report with the NULs removed; the huge one is stored whole.
    texts = [t.text for t in await all_tickets(bot)]
    assert "电梯坏了" in texts and any(len(t) == 100_000 for t in texts)
    # And the bot still answers an ordinary report.
    await resident_says(bot, "5号楼门口的路灯不亮了，麻烦修一下", group="西园5号楼业主群", name="陈小姐")
    assert said_in(transport, "西园5号楼业主群")


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec=None), max_size=300))
async def test_any_text_is_processed(bot, text):
    message = resident_message(text)
    await asyncio.wait_for(bot.dispatcher.feed(message), 10)
    async with bot.sessions() as session:
        status = await session.scalar(select(InboxMessage.status).where(InboxMessage.message_id == message.message_id))
    assert status == "processed"


async def test_flood_from_one_resident_makes_one_ticket_and_few_messages(bot, transport):
    variants = ["3号楼电梯坏了", "电梯还没修好吗", "3号楼电梯又停了！！", "电梯坏了麻烦赶紧修", "什么时候修电梯"]
    await asyncio.gather(*(bot.dispatcher.feed(resident_message(variants[i % 5] + "!" * (i % 3)))
                           for i in range(50)))
    await settle(bot)
    assert len(await all_tickets(bot)) == 1
    assert len(said_in(transport, STAFF_GROUP)) == 1  # one alert
    assert len(said_in(transport, RESIDENT_GROUP)) <= 2  # the ack and at most one reminder this hour


async def test_database_lost_mid_run_loses_nothing(bot, transport, monkeypatch, settings):
    calls = {"n": 0}

    def flaky(real):  # every write of a new message fails, three times, as if the database went away
        async def write(session, messages, now):
            calls["n"] += 1
            if calls["n"] <= 3:
                raise ConnectionRefusedError("database went away")
            return await real(session, messages, now)
        return write

    monkeypatch.setattr(inbox, "store_for_processing", flaky(inbox.store_for_processing))
    monkeypatch.setattr(inbox, "store_many", flaky(inbox.store_many))
    feeding = asyncio.gather(*(bot.dispatcher.feed(resident_message(f"{n}号楼门口井盖没了，太危险了", name=f"居民{n}"))
                               for n in (1, 3, 5)))
    await asyncio.sleep(0.2)
    spool = os.path.join(settings.storage.data_dir, "inbox-spool.jsonl")
    assert os.path.exists(spool)  # waiting on disk, not only in memory
    await asyncio.wait_for(feeding, 30)
    await settle(bot)
    assert len(await all_tickets(bot)) == 3
    assert not os.path.exists(spool)


async def test_spooled_messages_are_stored_on_the_next_start(settings, classifier, reset_database):
    from bot.app import GridBot
    from bot.spool import Spool
    from tests.conftest import FakeTransport

    os.makedirs(settings.storage.data_dir, exist_ok=True)
    Spool(__import__("pathlib").Path(settings.storage.data_dir) / "inbox-spool.jsonl").add(
        [resident_message("3号楼门口井盖没了，太危险了", message_id="spooled-1")])
    transport = FakeTransport()
    bot = GridBot(settings, transport=transport, classifier=classifier)
    await bot.start(web_server=False)
    try:
        await settle(bot)
        assert len(await all_tickets(bot)) == 1 and len(transport.sent) == 2
    finally:
        await bot.stop()


async def test_database_unreachable_at_start_is_reported_and_retried(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDBOT_WEB_PORT="0",
               GRIDBOT_STORAGE_URL="postgresql+asyncpg://gridbot:secret@127.0.0.1:9/nowhere")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(ROOT / "config.toml"), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    lines = []
    while len([line for line in lines if "database unreachable" in line]) < 2:
        lines.append((await asyncio.wait_for(process.stderr.readline(), 20)).decode())
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) == 0
    assert "数据库连接不上" in lines[-1] and "secret" not in "".join(lines)  # no password in logs


async def test_one_failing_message_does_not_hold_up_its_batch(bot, transport, monkeypatch):
    real = bot.classifier.classify

    def classify(text):
        if "BOOM" in text:
            raise RuntimeError("a bug in a handler")
        return real(text)

    monkeypatch.setattr(bot.classifier, "classify", classify)
    batch = [resident_message("BOOM 电梯坏了", name="新居民甲", message_id="boom")] + [
        resident_message(f"{n}号楼门口井盖没了，太危险了", name=f"新居民{n}", group=["西园1号楼业主群", "西园3号楼业主群", "西园5号楼业主群"][n % 3])
        for n in range(1, 6)]
    await asyncio.gather(*(bot.dispatcher.feed(m) for m in batch))
    await settle(bot)
    assert len(await all_tickets(bot)) == 5
    async with bot.sessions() as session:
        row = await session.scalar(select(InboxMessage).where(InboxMessage.message_id == "boom"))
    assert row.status == "received" and row.attempts == 1  # kept, to be tried again
    # A resident first seen in the rolled-back batch can still report.
    await resident_says(bot, "3号楼楼道灯坏了，麻烦修一下", name="新居民甲")
    assert len(await all_tickets(bot)) == 6
