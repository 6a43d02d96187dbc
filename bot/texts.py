"""Everything residents and staff read, in one place so the wording can be reviewed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.nlp.labels import CATEGORY_ZH, URGENCY_ZH


def sla_phrase(hours: float) -> str:
    """12 → 「12 小时内」, 168 → 「7 天内」."""
    if hours < 24 or hours % 24:
        return f"{hours:g} 小时内"
    return f"{hours / 24:g} 天内"


def local_time(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def report_ack(number: int, category: str, worker: str | None, hours: float) -> str:
    who = f"网格员{worker}" if worker else "社区工作人员"
    return (
        f"您好，您反映的问题已登记，工单号 #{number}（{CATEGORY_ZH[category]}）。"
        f"已通知{who}，我们会在{sla_phrase(hours)}给您回复，请留意群消息。"
    )


def inquiry_ack(number: int, hours: float) -> str:
    return f"您好，您的咨询已收到（#{number}），工作人员会在{sla_phrase(hours)}答复您，请稍候。"


def staff_alert(
    *,
    number: int,
    intent: str,
    category: str,
    urgency: str,
    group_topic: str,
    grid_name: str,
    resident: str,
    text: str,
    keywords: list[str],
    assignee: str | None,
    due: str,
) -> str:
    title = "居民咨询" if intent == "inquiry" else ("居民投诉" if intent == "complaint" else "新工单")
    lines = [
        f"【{title} #{number}】{CATEGORY_ZH[category]}｜{URGENCY_ZH[urgency]}",
        f"群聊：{group_topic}" + (f"（{grid_name}）" if grid_name else ""),
        f"居民：{resident}",
        f"原话：{quote(text)}",
    ]
    if keywords:
        lines.append("命中：" + "、".join(keywords))
    handler = f"{assignee}" if assignee else "本网格暂无网格员，请值班人员认领"
    lines.append(f"处理人：{handler}，请在 {due} 前回复居民")
    return "\n".join(lines)


def quote(text: str, limit: int = 300) -> str:
    """Resident words in an alert: one paragraph, bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
