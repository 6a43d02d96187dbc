"""The outbox sender's pacing and retries."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.config import OutboxSettings
from bot.events import Outgoing, utcnow
from bot.outbox import Pacer
from storage import outbox
from storage.models import OutboxMessage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_spaces_messages_in_one_group_but_not_across_groups():
    clock = Clock()
    pacer = Pacer(OutboxSettings(per_group_interval_seconds=3, per_account_per_minute=20), clock=clock)
    assert pacer.wait_for("A") == 0
    pacer.record("A")
    assert pacer.wait_for("A") == 3
    assert pacer.wait_for("B") == 0
    clock.now += 3
    assert pacer.wait_for("A") == 0


def test_pacer_caps_messages_per_minute_per_account():
    clock = Clock()
    pacer = Pacer(OutboxSettings(per_group_interval_seconds=0, per_account_per_minute=5), clock=clock)
    for i in range(5):
        assert pacer.wait_for(f"group-{i}") == 0
        pacer.record(f"group-{i}")
        clock.now += 1
    assert pacer.wait_for("another") == 55  # the first of the five leaves the window in 55 s
    clock.now += 55
    assert pacer.wait_for("another") == 0


async def test_same_key_is_queued_once(bot):
    async with bot.sessions.begin() as session:
        assert await outbox.enqueue(session, "k1", Outgoing(text="一", room_topic="西园3号楼业主群"), now=utcnow())
        assert not await outbox.enqueue(session, "k1", Outgoing(text="二", room_topic="西园3号楼业主群"), now=utcnow())
    async with bot.sessions() as session:
        assert (await session.scalars(select(OutboxMessage.text))).all() == ["一"]


async def test_failed_send_is_retried_and_does_not_block_others(bot, transport):
    original = transport.send
    calls = {"bad": 0}

    async def flaky(message: Outgoing) -> None:
        if message.text == "坏" and calls["bad"] == 0:
            calls["bad"] += 1
            raise RuntimeError("gateway hiccup")
        await original(message)

    transport.send = flaky
    async with bot.sessions.begin() as session:
        await outbox.enqueue(session, "bad", Outgoing(text="坏", room_topic="西园1号楼业主群"), now=utcnow())
        await outbox.enqueue(session, "good", Outgoing(text="好", room_topic="西园5号楼业主群"), now=utcnow())
    bot.sender.wake()
    await transport.wait_for(1)
    assert transport.sent[0].text == "好"
    # The failed one comes back after its backoff (2 s for the first retry).
    await transport.wait_for(2, timeout=10)
    assert [m.text for m in transport.sent] == ["好", "坏"]


async def test_claim_is_exclusive(bot):
    async with bot.sessions.begin() as session:
        await outbox.enqueue(session, "only", Outgoing(text="x", room_topic="西园1号楼业主群"),
                             now=utcnow())
    await bot.sender.stop()  # the test claims by hand
    async with bot.sessions() as session:
        row_id = (await session.scalars(select(OutboxMessage.id))).one()
    results = []
    for _ in range(2):
        async with bot.sessions.begin() as session:
            results.append(await outbox.claim(session, row_id, utcnow()))
    assert results == [True, False]
    await asyncio.sleep(0)
