"""Tip files (bot/content/*.toml): a title and tips with stable ids; rendered with local details."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from datetime import datetime

from bot.broadcasts.settings import content_path
from bot.config import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Tip:
    id: str
    topic: str
    text: str


@dataclass(frozen=True)
class Content:
    title: str
    tips: tuple[Tip, ...]


@functools.lru_cache(maxsize=32)
def load(name: str) -> Content:
    data = tomllib.loads(content_path(name).read_text(encoding="utf-8"))
    tips = tuple(Tip(id=t["id"], topic=t.get("topic", ""), text=t["text"]) for t in data.get("tips", ()))
    if not tips:
        raise ValueError(f"{name}: no [[tips]]")
    return Content(title=data.get("title", ""), tips=tips)


def render(content: Content, tip: Tip, settings: Settings, when: datetime) -> str:
    local = when.astimezone(settings.community.tz)
    rivers = settings.broadcast.rivers
    body = tip.text.format(
        community=settings.community.name,
        date=f"{local.month}月{local.day}日",
        rivers="、".join(rivers) or "附近的河道、池塘",
        hotline_fraud="96110",
        police=settings.hotlines.police,
        medical=settings.hotlines.medical,
    )
    return f"【{content.title}】{body}" if content.title else body
