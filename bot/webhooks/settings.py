"""Settings of one staff-alert robot (a [[webhooks]] entry in config.toml)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# Where each platform puts the robot's credential in its webhook URL.
_CREDENTIAL = {
    "wecom": "?key=... (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)",
    "dingtalk": "?access_token=... (https://oapi.dingtalk.com/robot/send?access_token=...)",
    "feishu": "/hook/<token> (https://open.feishu.cn/open-apis/bot/v2/hook/...)",
}


def has_credential(kind: str, url: str) -> bool:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if kind == "wecom":
        return bool(query.get("key"))
    if kind == "dingtalk":
        return bool(query.get("access_token"))
    head, _, token = parts.path.rstrip("/").rpartition("/")
    return head.endswith("/hook") and bool(token)


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)  # shown in logs instead of the URL, e.g. "网格员群机器人"
    kind: Literal["wecom", "dingtalk", "feishu"]
    url: str = Field(repr=False)  # contains the robot's key: never log it unmasked
    secret: SecretStr | None = None  # DingTalk / Feishu "加签" secret
    mention_all: bool = False  # @所有人 on every alert

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected the robot's http:// or https:// webhook URL")
        if not value.isascii() or any(c.isspace() for c in value):
            raise ValueError("the webhook URL must be copied exactly as the platform shows it (no spaces)")
        return value

    @model_validator(mode="after")
    def _matches_kind(self) -> "WebhookSettings":
        problems = []
        if not has_credential(self.kind, self.url):
            problems.append(f"url: a {self.kind} robot URL ends in {_CREDENTIAL[self.kind]}")
        if self.secret is not None and self.kind == "wecom":
            problems.append("secret: WeCom group robots are not signed (remove the secret)")
        elif self.secret is not None and not self.secret.get_secret_value():
            problems.append("secret: empty (remove it, or paste the robot's 加签 secret SEC...)")
        if problems:  # "key: problem; key: problem", the form bot.config.describe_errors expects
            raise ValueError("; ".join(problems))
        return self
