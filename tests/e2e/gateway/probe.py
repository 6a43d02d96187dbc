"""Smoke-check python-wechaty 0.10.7 against the e2e gateway.

Not a pytest module: run it by hand after `npm ci` in this folder,

    python tests/e2e/gateway/probe.py

with an interpreter that has wechaty==0.10.7 (pyee==8.2.2, urllib3<2).
It starts `node server.js`, drives it through the control API and prints one
`ok`/`FAIL` line per behaviour that README.md ("Verified behaviour") relies on.
Exit status 0 when everything held.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

# python-wechaty 0.10.7 needs this before the first `import wechaty`
from wechaty_puppet import PuppetOptions

PuppetOptions.__hash__ = object.__hash__  # type: ignore[method-assign]

import betterproto  # noqa: E402
from grpclib.exceptions import StreamTerminatedError  # noqa: E402
from wechaty import Message, Wechaty, WechatyOptions  # noqa: E402
from wechaty_puppet import EventLoginPayload, MessageType  # noqa: E402
from wechaty_puppet.exceptions import WechatyPuppetConfigurationError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BOT = 'wxid_xiyuan_bot'
ROOM1 = 'room-1@chatroom'
FAILED: list[str] = []


def check(what: str, cond: bool, detail: object = '') -> None:
    print(f"{'ok  ' if cond else 'FAIL'} {what}" + (f'  [{detail}]' if detail != '' else ''), flush=True)
    if not cond:
        FAILED.append(what)


class Gateway:
    """Start `node server.js` and talk to its control API."""

    def __init__(self) -> None:
        if not os.path.isdir(os.path.join(HERE, 'node_modules')):
            sys.exit(f'run `npm ci` in {HERE} first')
        self.proc = subprocess.Popen(['node', 'server.js'], cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=open(os.devnull, 'w'), text=True)
        self.info = json.loads(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{self.info['control_port']}"

    def call(self, method: str, path: str, body: dict | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={'content-type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return {'http_error': e.code, **json.loads(e.read())}

    async def __call__(self, method: str, path: str, body: dict | None = None) -> object:
        return await asyncio.to_thread(self.call, method, path, body)

    async def wait_attached(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = await self('GET', '/health')
            if h['logged_in'] and h['stream_attached']:
                return True
            await asyncio.sleep(0.05)
        return False

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


class Bot(Wechaty):
    def __init__(self, options: WechatyOptions) -> None:
        super().__init__(options)
        self.inbox: dict[str, Message] = {}
        self.logins = 0

    async def on_login(self, contact) -> None:  # fires once per event bridge only
        self.logins += 1

    async def on_message(self, msg: Message) -> None:
        self.inbox[msg.message_id] = msg


async def wait_msg(bot: Bot, mid: str, timeout: float = 5) -> Message | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mid in bot.inbox:
            return bot.inbox[mid]
        await asyncio.sleep(0.02)
    return None


async def stream_bytes(call) -> tuple[str | None, bytes]:
    """Collect a MessageImageStream / MessageFileStream: chunks are a oneof
    `payload` of `name` (first) or `data`."""
    name, chunks = None, []
    async for resp in call:
        field, value = betterproto.which_one_of(resp.file_box_chunk, 'payload')
        if field == 'name':
            name = value
        elif field == 'data':
            chunks.append(value)
    return name, b''.join(chunks)


def close_channel(bot: Bot) -> None:
    """Drop a dead connection without calling the (dead) Stop RPC."""
    puppet = bot.puppet
    if puppet.channel is not None:
        puppet.channel.close()
        puppet.channel = None


async def main() -> None:
    logging.disable(logging.INFO)  # python-wechaty logs every call at INFO
    gw = Gateway()
    try:
        await run(gw)
    finally:
        gw.close()


async def run(gw: Gateway) -> None:
    endpoint = f"127.0.0.1:{gw.info['puppet_port']}"
    # a fresh WechatyOptions per Wechaty: the constructor replaces
    # options.puppet with the PuppetService instance it creates
    bot = Bot(WechatyOptions(puppet='wechaty-puppet-service',
                             puppet_options=PuppetOptions(end_point=endpoint, token=gw.info['token'])))

    async def no_plugins() -> None:
        pass
    # the login listener starts the plugin manager: it raises (and on_login is
    # never called) when port 5000 is taken, and on a second login
    bot._plugin_manager.start = no_plugins  # type: ignore[method-assign]

    raw_logins: list[str] = []
    dongs: list[tuple[float, str]] = []
    bot.on('dong', lambda data: dongs.append((time.monotonic(), data)))

    # -- connect: own the lifecycle instead of Wechaty.start() --------------
    await bot.init_puppet()                       # binds Message/Room/Contact to bot.puppet
    await bot.init_puppet_event_bridge(bot.puppet)
    bot.puppet.on('login', lambda p: raw_logins.append(p.contact_id))
    pump = asyncio.create_task(bot.puppet.start())  # Stop+Start RPCs, then reads events until the stream ends
    check('connects and logs in', await gw.wait_attached())
    await asyncio.sleep(0.1)
    check('on_login fired once', bot.logins == 1, bot.logins)
    check('puppet.self_id() is the bot', bot.puppet.self_id() == BOT)

    # -- a resident speaks in a room, mentioning the bot --------------------
    r = await gw('POST', '/say', {'from': 'wxid_wangayi', 'room': ROOM1,
                                  'text': '@西园小助手\u2005楼道灯坏了', 'mentions': [BOT]})
    msg = await wait_msg(bot, r['message_id'])
    check('room message received', msg is not None)
    room = msg.room()
    check('room topic', await room.topic() == '西园1号楼业主群')
    check('talker name', msg.talker().name == '王阿姨')
    check('text (as sent, with @name\\u2005)', msg.text() == '@西园小助手\u2005楼道灯坏了')
    check('mention_list', [c.contact_id for c in await msg.mention_list()] == [BOT])
    check('mention_self()', await msg.mention_self())
    check('mention_text() strips the @', await msg.mention_text() == '楼道灯坏了', await msg.mention_text())
    check('is_self() false for residents', not msg.is_self())
    member = bot.Contact.load('wxid_wangayi')
    await member.ready()
    check('room.alias(member) = 群昵称', await room.alias(member) == '1-302王阿姨')

    # -- the bot answers ----------------------------------------------------
    await gw('DELETE', '/sent')
    sent = await room.say('收到，已转网格员', mention_ids=['wxid_wangayi'])
    out = await gw('GET', '/sent')
    check('room.say(text, mention_ids) shows in /sent',
          out and out[-1]['text'] == '@王阿姨 收到，已转网格员' and out[-1]['mentions'] == ['wxid_wangayi'], out)
    echo = await wait_msg(bot, sent.message_id)
    check('own message comes back as an event, is_self() true', echo is not None and echo.is_self())

    r = await gw('POST', '/say', {'from': 'wxid_lidaye', 'room': None, 'text': '你好'})
    pm = await wait_msg(bot, r['message_id'])
    check('private message: room() is None', pm is not None and pm.room() is None)
    await pm.talker().say('李大爷您好')
    out = await gw('GET', '/sent')
    check('contact.say -> /sent with "to"', out[-1]['to'] == 'wxid_lidaye' and out[-1]['room'] is None, out[-1])

    # -- ding / dong ---------------------------------------------------------
    t0 = time.monotonic()
    await bot.puppet.ding('probe')
    await asyncio.sleep(0.3)
    check('ding() returns at once, dong arrives via the event stream',
          dongs and dongs[-1][1] == 'probe', [(round(t - t0, 3), d) for t, d in dongs])

    # -- images ---------------------------------------------------------------
    r = await gw('POST', '/image', {'from': 'wxid_chenxj', 'room': 'room-5@chatroom', 'size': 300_000})
    img = await wait_msg(bot, r['message_id'])
    check('image message type', img.type() == MessageType.MESSAGE_TYPE_IMAGE)
    try:
        await img.to_file_box()
        check('to_file_box() fails for > 20 KB (UUID box)', False)
    except ValueError:
        check('to_file_box() fails for > 20 KB (UUID box)', True)
    name, data = await stream_bytes(bot.puppet.puppet_stub.message_image_stream(id=img.message_id, type=3))  # 3 = ImageType.IMAGE_TYPE_ARTWORK
    check('message_image_stream gives the bytes', hashlib.sha256(data).hexdigest() == r['sha256'], (name, len(data)))
    name, data = await stream_bytes(bot.puppet.puppet_stub.message_file_stream(id=img.message_id))
    check('message_file_stream gives the bytes', hashlib.sha256(data).hexdigest() == r['sha256'], (name, len(data)))
    r = await gw('POST', '/image', {'from': 'wxid_chenxj', 'room': 'room-5@chatroom', 'size': 10_000})
    small = await wait_msg(bot, r['message_id'])
    box = await small.to_file_box()
    check('to_file_box() works <= 20 KB (Base64 box)',
          hashlib.sha256(base64.b64decode(box.base64)).hexdigest() == r['sha256'])

    # -- recall ------------------------------------------------------------------
    r = await gw('POST', '/say', {'from': 'wxid_liunvshi', 'room': 'room-3@chatroom', 'text': '发错群了'})
    await wait_msg(bot, r['message_id'])
    rr = await gw('POST', '/recall', {'message_id': r['message_id']})
    rec = await wait_msg(bot, rr['message_id'])
    orig = await rec.to_recalled()
    check('recall arrives as MESSAGE_TYPE_RECALLED; to_recalled() gives the original',
          rec.type() == MessageType.MESSAGE_TYPE_RECALLED and orig.message_id == r['message_id'])

    # -- join / topic ---------------------------------------------------------
    joins: list = []
    topics: list = []
    bot.on('room-join', lambda room, invitees, inviter, date: joins.append([c.contact_id for c in invitees]))
    bot.on('room-topic', lambda room, new, old, changer, date: topics.append((new, old)))
    await gw('POST', '/join', {'room': ROOM1, 'contact': {'id': 'wxid_newbie', 'name': '小周'}})
    await gw('POST', '/topic', {'room': ROOM1, 'topic': '西园1号楼业主群（新）'})
    await asyncio.sleep(0.3)
    check('room-join event', joins == [['wxid_newbie']], joins)
    check('room-topic event (new, old)', topics == [('西园1号楼业主群（新）', '西园1号楼业主群')], topics)
    check('member_list() is live', 'wxid_newbie' in [c.contact_id for c in await room.member_list()])
    stale = await room.topic()
    await room.ready(force_sync=True)
    still = await room.topic()
    room.payload = None
    await room.ready()
    fresh = await room.topic()
    check('cached room.topic() is stale, ready(force_sync=True) does NOT refresh, payload=None+ready() does',
          stale == still == '西园1号楼业主群' and fresh == '西园1号楼业主群（新）', (stale, still, fresh))

    # -- the gateway goes away and comes back ---------------------------------
    await gw('POST', '/stop')
    try:
        await asyncio.wait_for(pump, 5)
        check('stream end noticed at once', False, 'start() returned normally')
    except StreamTerminatedError:
        check('stream end noticed at once: puppet.start() raises StreamTerminatedError', True)
    try:
        await bot.puppet.ding('down')
        check('ding() while down raises ConnectionRefusedError', False)
    except ConnectionRefusedError:
        check('ding() while down raises ConnectionRefusedError', True)
    close_channel(bot)
    try:
        await bot.puppet.start()
        check('start() while down raises WechatyPuppetConfigurationError', False)
    except WechatyPuppetConfigurationError:
        check('start() while down raises WechatyPuppetConfigurationError (ping)', True)
    r = await gw('POST', '/say', {'from': 'wxid_wangayi', 'room': ROOM1, 'text': 'during outage'})
    check('messages during the outage are dropped (delivered=false)', r['delivered'] is False)
    await gw('POST', '/start')
    pump = asyncio.create_task(bot.puppet.start())  # same puppet, same listeners, new channel
    check('reconnect by calling puppet.start() again', await gw.wait_attached())
    await asyncio.sleep(0.1)
    check('on_login NOT fired again (once per bridge); raw puppet "login" is',
          bot.logins == 1 and raw_logins == [BOT, BOT], (bot.logins, raw_logins))
    r = await gw('POST', '/say', {'from': 'wxid_wangayi', 'room': ROOM1, 'text': 'after reconnect'})
    check('messages flow again', await wait_msg(bot, r['message_id']) is not None)
    await gw('DELETE', '/sent')
    await room.say('我回来了')
    out = await gw('GET', '/sent')
    check('the bot can send again', [s['text'] for s in out] == ['我回来了'], out)

    # -- shut down ------------------------------------------------------------
    await bot.puppet.stop()   # removes listeners, Stop RPC (bot logs out), closes the channel
    await asyncio.sleep(0.2)
    h = await gw('GET', '/health')
    check('puppet.stop() detaches and logs the bot out', not h['stream_attached'] and not h['logged_in'], h)
    pump.cancel()


if __name__ == '__main__':
    asyncio.run(main())
    print(f"{len(FAILED)} failed" if FAILED else 'all ok')
    sys.exit(1 if FAILED else 0)
