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


def report_ack(number: int, category: str, worker: str | None, when: str) -> str:
    """`when` is 「7 天内」 or, with office hours, 「12月8日 10:00 前」."""
    who = f"网格员{worker}" if worker else "社区工作人员"
    return (
        f"您好，您反映的问题已登记，工单号 #{number}（{CATEGORY_ZH[category]}）。"
        f"已通知{who}，我们会在 {when}给您回复，请留意群消息。"
    )


def inquiry_ack(number: int, when: str) -> str:
    return f"您好，您的咨询已收到（#{number}），工作人员会在 {when}答复您，请稍候。"


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
    if urgency == "emergency":
        title = "紧急" + title
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


def greeting(community: str, bot_name: str) -> str:
    return (
        f"欢迎加入！我是{community}的{bot_name}。家里或小区里遇到问题（报修、投诉、咨询），"
        f"直接在群里说就行，比如「3号楼电梯坏了」，我会登记并转给网格员，处理好了会在群里告诉您。"
    )


def help_note(bot_name: str) -> str:
    return (
        f"您好，我是{bot_name}。小区里的报修、投诉、咨询，直接在群里说清楚哪里、什么问题就行，"
        "比如「5栋楼道灯坏了」「请问居住证怎么办」，我会登记成工单并转给网格员跟进，处理进展会在群里告诉您。"
    )


def private_help(bot_name: str) -> str:
    return (
        f"您好，我是{bot_name}。为了让网格员及时看到，请在您所在楼栋的业主群里直接说出问题"
        "（哪里、什么问题），我会登记并转给负责的网格员。"
    )


def photo_alert(number: int, resident: str, photos: int) -> str:
    return f"【#{number} 补充照片】居民{resident}为这条工单发来照片（共 {photos} 张），可在工单详情里查看。"


def recall_cancelled(number: int, resident: str, group_topic: str) -> str:
    return f"【#{number} 已取消】居民{resident}在「{group_topic}」撤回了原消息，该工单尚未处理，已自动取消，无需跟进。"


STATUS_ZH = {
    "open": "待接单",
    "in_progress": "处理中",
    "resolved": "已办结，待评价",
    "closed": "已完结",
    "cancelled": "已取消",
}

SATISFACTION_ZH = {"satisfied": "满意", "dissatisfied": "不满意", "none": "未评价"}


def taken_for_resident(number: int, worker: str) -> str:
    return f"您反映的问题（#{number}）网格员{worker}已接单，正在处理，有进展会第一时间告诉您。"


def resolved_for_resident(number: int, note: str) -> str:
    return (
        f"您反映的问题（#{number}）已处理：{note}\n"
        "问题解决了吗？满意请回复\u201c满意\u201d，不满意请回复\u201c不满意\u201d。"
    )


def thanks_for_rating() -> str:
    return "感谢您的评价！有其他问题随时在群里说。"


def sorry_reopened(number: int) -> str:
    return f"抱歉没能让您满意，#{number} 已重新交给网格员处理，我们会尽快再跟您联系。"


def reopened_alert(number: int, reason: str, by: str) -> str:
    return f"【#{number} 重开】{by}：{quote(reason, 200)}\n请重新处理并回复居民。"


def reassigned_alert(number: int, by: str, to: str) -> str:
    return f"【#{number} 转派】{by}已把工单转给{to}，请及时接单（回复：接单 #{number}）。"


def duplicate_ack(number: int, count: int) -> str:
    return (
        f"您反映的问题与 #{number} 是同一件事，已为您登记附议（目前共 {count} 位居民反映），"
        "处理进展会一起通知您。"
    )


def repeat_ack(number: int, status: str) -> str:
    return f"这个问题已登记为 #{number}（{STATUS_ZH.get(status, status)}），请耐心等待，有进展会通知您。"


def duplicate_alert(number: int, resident: str, group_topic: str, count: int, text: str) -> str:
    return (
        f"【#{number} 附议】居民{resident}在「{group_topic}」也反映了这个问题（共 {count} 人）：\n"
        f"原话：{quote(text)}"
    )


def withdrawn_for_resident(number: int) -> str:
    return f"#{number} 已按您的要求撤销。如果问题还在，随时再说。"


def withdrawn_alert(number: int, resident: str) -> str:
    return f"【#{number} 已撤销】居民{resident}撤销了这条工单，无需再跟进。"


def no_open_tickets() -> str:
    return "您目前没有未办结的工单。有问题直接在群里说就行。"


def reminder_alert(number: int, due: str, taken: bool) -> str:
    step = "回复居民" if taken else "接单并回复居民"
    return f"【#{number} 即将超时】请在 {due} 前{step}。"


def overdue_alert(number: int, assignee: str | None, due: str, group_topic: str) -> str:
    who = assignee or "（未分配）"
    return f"【#{number} 已超时】{group_topic} 的工单截至 {due} 仍未办结，处理人：{who}。请负责人督办。"


def staff_only() -> str:
    return "抱歉，这个命令只有社区工作人员可以使用。居民反映问题直接在群里说就行。"


def emergency_ack(number: int, advice: str) -> str:
    return f"【紧急】已收到，工单 #{number} 已同时通知网格员和社区负责人，马上处理。{advice}"
