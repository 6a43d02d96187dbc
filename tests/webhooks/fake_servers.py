"""One local HTTP server that answers like the WeCom, DingTalk and Feishu robot APIs.

Same paths, bodies, signature checks, rate limits and reply codes as the real services, so the
client is tested against what production will say. Knobs: `fail_next` (502s), `stall_next`
(slow replies), the rate-limit `window`/`limits` and an injectable `clock` for the window.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from pydantic import SecretStr

from bot.webhooks import WebhookSettings

# Messages per window per robot. WeCom and DingTalk: 20/min; Feishu documents 100/min (and 5/s).
REAL_LIMITS = {"wecom": 20, "dingtalk": 20, "feishu": 100}
SIGNATURE_MAX_AGE = 3600  # DingTalk and Feishu refuse timestamps more than an hour off

FEISHU_OK = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
_AT = re.compile(r'<at user_id="([^"]*)">[^<]*</at>')


@dataclass(frozen=True)
class Delivered:
    """A message the platform accepted, as staff would see it in the group."""

    kind: str
    robot: str  # the robot's name
    text: str
    mentions: tuple[str, ...] = ()  # user ids and mobiles that were @-ed
    at_all: bool = False


@dataclass
class _Robot:
    kind: str
    name: str
    secret: str | None
    accepted: collections.deque[float] = field(default_factory=collections.deque)


class FakeWebhookServer:
    def __init__(self, *, window: float = 60.0, limits: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.monotonic, feishu_throttle_status: int = 429):
        self.window = window
        self.limits = {**REAL_LIMITS, **(limits or {})}
        self.clock = clock
        self.feishu_throttle_status = feishu_throttle_status
        self.delivered: list[Delivered] = []
        self.requests = 0  # every request that reached the server
        self._robots: dict[tuple[str, str], _Robot] = {}
        self._tokens = (f"{n:04d}{'a1b2c3d4' * 4}" for n in itertools.count(1))
        self._fail: collections.deque[int] = collections.deque()
        self._stall: collections.deque[float] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self._wecom)
        app.router.add_post("/robot/send", self._dingtalk)
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu)
        self._runner = web.AppRunner(app, access_log=None)  # its log line would carry the keys
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeWebhookServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # -- test controls --------------------------------------------------------------
    def add_robot(self, kind: str, *, name: str = "", secret: str | None = None,
                  mention_all: bool = False) -> WebhookSettings:
        """Register a robot and return the settings staff would paste into config.toml."""
        token = next(self._tokens)
        url = {
            "wecom": f"{self.base_url}/cgi-bin/webhook/send?key={token}",
            "dingtalk": f"{self.base_url}/robot/send?access_token={token}",
            "feishu": f"{self.base_url}/open-apis/bot/v2/hook/{token}",
        }[kind]
        name = name or f"{kind}-{token[:4]}"
        self._robots[(kind, token)] = _Robot(kind, name, secret)
        return WebhookSettings(name=name, kind=kind, url=url, secret=SecretStr(secret) if secret else None,
                               mention_all=mention_all)

    def fail_next(self, count: int, status: int = 502) -> None:
        """Answer the next `count` requests with an HTML error page, like a gateway in trouble."""
        self._fail.extend([status] * count)

    def stall_next(self, count: int, seconds: float) -> None:
        self._stall.extend([seconds] * count)

    def texts(self, kind: str | None = None) -> list[str]:
        return [d.text for d in self.delivered if kind in (None, d.kind)]

    # -- shared request handling ----------------------------------------------------
    async def _common(self, request: web.Request) -> web.Response | dict[str, Any]:
        """Failures injected by the test, else the JSON body (or an error reply)."""
        self.requests += 1
        if self._stall:
            await asyncio.sleep(self._stall.popleft())
        if self._fail:
            return web.Response(status=self._fail.popleft(), text="<html>Bad Gateway</html>", content_type="text/html")
        try:
            body = await request.json()
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {}

    def _admit(self, robot: _Robot) -> bool:
        """Count the message against the robot's per-window limit; False when it is over."""
        now = self.clock()
        while robot.accepted and now - robot.accepted[0] >= self.window:
            robot.accepted.popleft()
        if len(robot.accepted) >= self.limits[robot.kind]:
            return False
        robot.accepted.append(now)
        return True

    @staticmethod
    def _fresh(timestamp_s: float) -> bool:
        return abs(time.time() - timestamp_s) <= SIGNATURE_MAX_AGE

    # -- WeCom: POST /cgi-bin/webhook/send?key=... --------------------------------------
    async def _wecom(self, request: web.Request) -> web.Response:
        def reply(code: int, message: str) -> web.Response:
            return web.json_response({"errcode": code, "errmsg": message})

        body = await self._common(request)
        if isinstance(body, web.Response):
            return body
        robot = self._robots.get(("wecom", request.query.get("key", "")))
        if robot is None:
            return reply(93000, "invalid webhook url, more info at https://open.work.weixin.qq.com/devtool/query?e=93000")
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown"):
            return reply(40008, "invalid message type")
        part = body.get(msgtype)
        content = part.get("content") if isinstance(part, dict) else None
        if not isinstance(content, str) or not content:
            return reply(44004, "empty content")
        if len(content.encode()) > (2048 if msgtype == "text" else 4096):
            return reply(40058, "content exceed max length")
        mentions = [*part.get("mentioned_list", []), *part.get("mentioned_mobile_list", [])]
        if not all(isinstance(m, str) for m in mentions):
            return reply(40058, "invalid Request Parameter")
        if not self._admit(robot):
            return reply(45009, "api freq out of limit")
        self.delivered.append(Delivered("wecom", robot.name, content,
                                        tuple(m for m in mentions if m != "@all"), "@all" in mentions))
        return reply(0, "ok")

    # -- DingTalk: POST /robot/send?access_token=...[&timestamp=ms&sign=...] --------------
    async def _dingtalk(self, request: web.Request) -> web.Response:
        def reply(code: int, message: str) -> web.Response:
            return web.json_response({"errcode": code, "errmsg": message})

        body = await self._common(request)
        if isinstance(body, web.Response):
            return body
        robot = self._robots.get(("dingtalk", request.query.get("access_token", "")))
        if robot is None:
            return reply(300001, "token is not exist")
        if robot.secret:
            timestamp = request.query.get("timestamp", "")
            if not timestamp.isdigit() or not self._fresh(int(timestamp) / 1000):
                return reply(310000, "invalid timestamp")
            expected = base64.b64encode(hmac.new(robot.secret.encode(), f"{timestamp}\n{robot.secret}".encode(),
                                                 hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(request.query.get("sign", ""), expected):
                return reply(310000, "sign not match")
        text = body.get("text")
        if body.get("msgtype") != "text" or not isinstance(text, dict) or not text.get("content"):
            return reply(40035, "缺少参数 json")  # the shape-error code is a stand-in
        at = body.get("at") or {}
        if not self._admit(robot):
            return reply(130101, "send too fast, exceed 20 times per minute")
        mentions = (*at.get("atUserIds", []), *at.get("atMobiles", []))
        self.delivered.append(Delivered("dingtalk", robot.name, text["content"], mentions, at.get("isAtAll") is True))
        return reply(0, "ok")

    # -- Feishu: POST /open-apis/bot/v2/hook/<token> ----------------------------------
    async def _feishu(self, request: web.Request) -> web.Response:
        def reply(code: int, message: str, status: int = 200) -> web.Response:
            return web.json_response({"code": code, "msg": message, "data": {}}, status=status)

        body = await self._common(request)
        if isinstance(body, web.Response):
            return body
        robot = self._robots.get(("feishu", request.match_info["token"]))
        if robot is None:
            return reply(19001, "param invalid: incoming webhook access token invalid")
        if robot.secret:
            timestamp = str(body.get("timestamp", ""))
            key = f"{timestamp}\n{robot.secret}".encode()
            expected = base64.b64encode(hmac.HMAC(key, digestmod=hashlib.sha256).digest()).decode()
            if (not timestamp.isdigit() or not self._fresh(int(timestamp))
                    or not hmac.compare_digest(str(body.get("sign", "")), expected)):
                return reply(19021, "sign match fail or timestamp is not within one hour from current time")
        if body.get("msg_type") is None:
            return reply(19002, "params error, msg_type need")
        content = body.get("content")
        if body.get("msg_type") != "text" or not isinstance(content, dict) or not content.get("text"):
            return reply(9499, "Bad Request", status=400)
        if not self._admit(robot):
            return reply(9499, "too many request", status=self.feishu_throttle_status)
        text = content["text"]
        ids = _AT.findall(text)
        self.delivered.append(Delivered("feishu", robot.name, _AT.sub("", text).strip(),
                                        tuple(i for i in ids if i != "all"), "all" in ids))
        return web.json_response(FEISHU_OK)
