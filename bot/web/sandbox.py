"""The sandbox page and its WebSocket: type as a resident or staff member, see the bot answer live."""

from __future__ import annotations

import json
import logging

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from bot.web.keys import COMMUNITY_KEY, SANDBOX_KEY

log = logging.getLogger(__name__)


@aiohttp_jinja2.template("sandbox.html")
async def page(request: web.Request) -> dict:
    transport = request.app[SANDBOX_KEY]
    return {"community": request.app[COMMUNITY_KEY], "bot": transport.bot_name,
            "groups": transport.groups, "staff": transport.staff_names}


async def websocket(request: web.Request) -> web.WebSocketResponse:
    transport = request.app[SANDBOX_KEY]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1024 * 1024)
    await ws.prepare(request)

    async def push(bubble: dict) -> None:
        await ws.send_json(bubble)

    transport.subscribe(push)
    try:
        await ws.send_json(transport.welcome())
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                await ws.send_json({"type": "error", "text": "消息格式不对"})
                continue
            if not isinstance(frame, dict):
                continue
            if frame.get("type") == "hello":
                await ws.send_json(transport.welcome(str(frame.get("name") or "")[:40] or None))
            elif frame.get("type") == "say":
                problem = await transport.receive(frame)
                if problem:
                    await ws.send_json({"type": "error", "text": problem})
    finally:
        transport.unsubscribe(push)
    return ws
