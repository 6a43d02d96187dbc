"""The baselines of bench.gateway: a bare python-wechaty 0.10.7 bot that answers every room message.

    python -m bench.wechaty_echo --endpoint 127.0.0.1:PORT --token insecure_... [--durable FILE.db]

It connects the way bot/transports/wechaty.py does (compat patch first, no plugin manager, its
own `puppet.start()` task instead of Wechaty.start()) and replies in the room with room.say,
mentioning the speaker as gridbot's replies do — nothing else: no storage, no classifier, no outbox.

With --durable it also does the least a bot that keeps its promises must do before replying:
classify the message with gridbot's classifier, then in one SQLite transaction (gridbot's
pragmas, plain sqlite3 on the event loop, no ORM) store the message, read the open tickets of its
category, open a numbered ticket with an audit event, queue the reply and the staff alert, and
commit. This is the floor for gridbot's figure: what is left above it is gridbot's own code.

Prints "ready" once logged in; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import time

from bot.transports.wechaty_compat import load

wechaty = load()
from wechaty_puppet import PuppetOptions

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS inbox (message_id TEXT PRIMARY KEY, payload TEXT, status TEXT)",
    "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, category TEXT, status TEXT, text TEXT,"
    " created REAL)",
    "CREATE INDEX IF NOT EXISTS tickets_open ON tickets (category, status)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ticket_id INTEGER, kind TEXT)",
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, key TEXT UNIQUE, room TEXT, text TEXT)",
)


class DurableStore:
    """One transaction per message, as above; returns the new ticket's number."""

    def __init__(self, path: str):
        from bot.nlp.classifier import Classifier
        from storage.db import SQLITE_PRAGMAS

        self.classifier = Classifier()
        self.db = sqlite3.connect(path, isolation_level=None)
        for statement in (*SQLITE_PRAGMAS, *_SCHEMA):
            self.db.execute(statement)

    def record(self, message_id: str, room_id: str, text: str) -> int:
        category = self.classifier.classify(text).category
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO inbox VALUES (?, ?, 'processed') ON CONFLICT DO NOTHING",
                       (message_id, json.dumps({"room": room_id, "text": text}, ensure_ascii=False)))
            db.execute("SELECT id, text FROM tickets WHERE category = ? AND status = 'open' ORDER BY id DESC LIMIT 50",
                       (category,)).fetchall()
            number = db.execute("SELECT coalesce(max(id), 0) + 1 FROM tickets").fetchone()[0]
            db.execute("INSERT INTO tickets VALUES (?, ?, 'open', ?, ?)", (number, category, text, time.time()))
            db.execute("INSERT INTO events (ticket_id, kind) VALUES (?, 'opened')", (number,))
            db.executemany("INSERT INTO outbox (key, room, text) VALUES (?, ?, ?)",
                           ((f"ticket:{number}:ack", room_id, text), (f"ticket:{number}:alert", "staff", text)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return number


class EchoBot(wechaty.Wechaty):
    store: DurableStore | None = None

    async def on_message(self, msg) -> None:
        if msg.is_self():
            return  # our own reply coming back
        room = msg.room()
        if room is None:
            return
        text = msg.text()
        if self.store is not None:
            text = f"#{self.store.record(msg.message_id, room.room_id, text)} {text}"
        await room.say(f"收到：{text}", mention_ids=[msg.talker().contact_id])


async def _noop() -> None:
    return None


async def run(endpoint: str, token: str, durable: str | None) -> None:
    bot = EchoBot(wechaty.WechatyOptions(puppet="wechaty-puppet-service",
                                         puppet_options=PuppetOptions(end_point=endpoint, token=token)))
    if durable:
        bot.store = DurableStore(durable)
    bot._plugin_manager.start = _noop  # no plugins (it would open port 5000)
    await bot.init_puppet()
    await bot.init_puppet_event_bridge(bot.puppet)
    logged_in = asyncio.Event()

    async def on_login(payload) -> None:
        logged_in.set()

    bot.puppet.on("login", on_login)
    pump = asyncio.create_task(bot.puppet.start())
    await asyncio.wait_for(logged_in.wait(), 30)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):  # shutting down: the gateway may be gone already
        await asyncio.wait_for(bot.puppet.stop(), 5)
    pump.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--durable", metavar="FILE", help="classify and commit each message to this SQLite file first")
    args = parser.parse_args()
    asyncio.run(run(args.endpoint, args.token, args.durable))


if __name__ == "__main__":
    main()
