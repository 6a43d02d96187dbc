"""Request bodies, "加签" signing and reply codes of the three robot APIs. Pure: no I/O.

WeCom group robot    https://developer.work.weixin.qq.com/document/path/91770
DingTalk robot       https://open.dingtalk.com/document/robots/custom-robot-access
Feishu custom bot    https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import quote_plus, urlsplit

from bot.webhooks.errors import WebhookRejected, WebhookThrottled, WebhookUnavailable
from bot.webhooks.settings import WebhookSettings

WECOM_TEXT_MAX_BYTES = 2048  # longer text messages are refused
THROTTLE_SECONDS = 60.0  # all three count messages per minute
# Reply codes that mean "too many messages": wait and send again.
WECOM_THROTTLED = {45009}  # api freq out of limit (20/min per robot)
DINGTALK_THROTTLED = {130101, 410100}  # send too fast, exceed 20 times per minute
FEISHU_THROTTLED = {9499}  # "too many request" (9499 also means "Bad Request": see check_reply)

_MOBILE = re.compile(r"\+?\d{11,15}")
_SECRET_QUERY_KEYS = {"key", "access_token", "sign", "token"}


@dataclass(frozen=True)
class Request:
    url: str  # already percent-encoded, sent as is
    body: dict[str, Any]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), before URL-encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def mask_url(url: str) -> str:
    """The URL with the robot key, access token and signature replaced by ***."""
    parts = urlsplit(url)
    path = re.sub(r"(/hook/)[^/]+", r"\1***", parts.path)
    query = "&".join(
        f"{name}=***" if name.lower() in _SECRET_QUERY_KEYS else pair
        for pair in parts.query.split("&") if pair
        for name in [pair.partition("=")[0]]
    )
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


def compose(text: str, title: str = "") -> str:
    """Alerts go as plain text everywhere (@所有人 works only there); a title becomes the first line."""
    return f"【{title}】\n{text}" if title else text


def fit_bytes(text: str, limit: int) -> str:
    """Cut text to at most `limit` UTF-8 bytes on a character boundary, marking the cut with …."""
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: limit - len("…".encode())].decode(errors="ignore") + "…"


def _split(mentions: Sequence[str]) -> tuple[list[str], list[str]]:
    """(user ids, mobile numbers)."""
    mobiles = [m for m in mentions if _MOBILE.fullmatch(m)]
    return [m for m in mentions if m not in mobiles], mobiles


def build_request(target: WebhookSettings, content: str, mentions: Sequence[str], now: float) -> Request:
    """The request one robot expects; `now` is the Unix time used for signing."""
    user_ids, mobiles = _split(mentions)
    secret = target.secret.get_secret_value() if target.secret else None
    if target.kind == "wecom":
        text: dict[str, Any] = {"content": fit_bytes(content, WECOM_TEXT_MAX_BYTES)}
        if user_ids or target.mention_all:
            text["mentioned_list"] = user_ids + (["@all"] if target.mention_all else [])
        if mobiles:
            text["mentioned_mobile_list"] = mobiles
        return Request(target.url, {"msgtype": "text", "text": text})
    if target.kind == "dingtalk":
        # DingTalk highlights an @ only when the content names the person too.
        missing = [f"@{m}" for m in user_ids + mobiles if f"@{m}" not in content]
        body = {
            "msgtype": "text",
            "text": {"content": " ".join([content, *missing])},
            "at": {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": target.mention_all},
        }
        url = target.url
        if secret:
            timestamp = int(now * 1000)
            sign = quote_plus(dingtalk_sign(secret, timestamp))
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        return Request(url, body)
    # Feishu: mentions are <at> tags inside the text (open_id / user_id; no mobiles).
    ats = [f'<at user_id="{uid}"></at>' for uid in [*user_ids, *mobiles]]
    if target.mention_all:
        ats.append('<at user_id="all">所有人</at>')
    body = {"msg_type": "text", "content": {"text": " ".join([content, *ats])}}
    if secret:
        timestamp = int(now)
        body = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **body}
    return Request(target.url, body)


def check_reply(target: WebhookSettings, status: int, reply: Any, retry_after: float | None = None) -> None:
    """Return if the platform took the message, else raise the matching WebhookError."""
    where = f"{target.kind} robot {target.name!r}"
    if status == 429:
        raise WebhookThrottled(f"{where}: HTTP 429 too many requests", target=target.name, status=status,
                               retry_after=retry_after or THROTTLE_SECONDS)
    if status >= 500:
        raise WebhookUnavailable(f"{where}: HTTP {status}", target=target.name, status=status)
    if not isinstance(reply, dict):
        error = WebhookRejected if status >= 400 else WebhookUnavailable
        raise error(f"{where}: HTTP {status} with no JSON reply", target=target.name, status=status)
    if target.kind == "feishu":
        code, message = reply.get("code", reply.get("StatusCode")), reply.get("msg", reply.get("StatusMessage"))
    else:
        code, message = reply.get("errcode"), reply.get("errmsg")
    message = str(message or "")[:200]
    if code == 0 and status < 400:
        return
    throttled = {"wecom": WECOM_THROTTLED, "dingtalk": DINGTALK_THROTTLED, "feishu": FEISHU_THROTTLED}[target.kind]
    if code in throttled and (target.kind != "feishu" or "too many" in message.lower()):
        raise WebhookThrottled(f"{where}: throttled ({code} {message})", target=target.name, code=code,
                               status=status, retry_after=THROTTLE_SECONDS)
    raise WebhookRejected(f"{where}: rejected ({code} {message})", target=target.name, code=code, status=status)
