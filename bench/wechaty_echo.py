"""The baseline of bench.gateway: a bare python-wechaty 0.10.7 bot that answers every room message.

    python -m bench.wechaty_echo --endpoint 127.0.0.1:PORT --token insecure_...

It connects the way bot/transports/wechaty.py does (compat patch first, no plugin manager, its
own `puppet.start()` task instead of Wechaty.start()) and replies in the room with room.say,
mentioning the speaker as gridbot's replies do — nothing else: no storage, no classifier, no outbox.
Prints "ready" once logged in; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.transports.wechaty_compat import load

wechaty = load()
from wechaty_puppet import PuppetOptions


class EchoBot(wechaty.Wechaty):
    async def on_message(self, msg) -> None:
        if msg.is_self():
            return  # our own reply coming back
        room = msg.room()
        if room is None:
            return
        await room.say(f"收到：{msg.text()}", mention_ids=[msg.talker().contact_id])


async def _noop() -> None:
    return None


async def run(endpoint: str, token: str) -> None:
    bot = EchoBot(wechaty.WechatyOptions(puppet="wechaty-puppet-service",
                                         puppet_options=PuppetOptions(end_point=endpoint, token=token)))
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
    args = parser.parse_args()
    asyncio.run(run(args.endpoint, args.token))


if __name__ == "__main__":
    main()
