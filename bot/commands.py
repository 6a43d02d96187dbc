"""Chat commands of staff (接单 #12, 办结 #12 …) and residents (查询, 撤销 #12, 满意): pure parsing.

Text in, a frozen command (or None) out: no I/O, never raises, bounded time.
Only the first MAX_INPUT_CHARS of a message and the first MAX_REPLY_CHARS of
its reply part are looked at; every regex is anchored and backtracks linearly.

A WeChat quote reply arrives as one text:

    「西园小助手：【新工单 #12】设施报修｜一般\n群聊：…」
    - - - - - - - - - - - - - - -
    接单

The part after the dash line (or after the closing 」 when the line is
missing) is the reply; when it names no ticket, the first #N of the quoted
part is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from bot.nlp.labels import CATEGORIES, CATEGORY_ZH

MAX_INPUT_CHARS = 20_000  # longer messages are never commands; their tail is not read
MAX_REPLY_CHARS = 500  # a staff command with a longer note is refused as too long
MAX_RESIDENT_CHARS = 30  # resident commands and ratings are short replies
MAX_QUOTE_CHARS = 2_000  # where the quoted ticket number is looked for

StaffVerb = Literal[
    "take", "reassign", "resolve", "reopen", "show", "todo", "recategorise", "note", "help", "invalid"
]
ResidentVerb = Literal["status", "withdraw", "satisfied", "dissatisfied", "invalid"]


@dataclass(frozen=True)
class StaffCommand:
    verb: StaffVerb
    number: int | None
    arg: str = ""  # name (reassign), note (resolve, note), reason (reopen), category key (recategorise)
    error: str = ""  # Chinese, for verb == "invalid": what is missing, with an example


@dataclass(frozen=True)
class ResidentCommand:
    verb: ResidentVerb
    number: int | None
    arg: str = ""  # the words after a rating (dissatisfied: the reason)
    error: str = ""  # Chinese, for verb == "invalid"


class _Verb(NamedTuple):
    key: StaffVerb
    needs_number: bool
    arg_name: str  # what the argument is called in errors; "" = no argument
    example: str


_STAFF_VERBS = {
    "接单": _Verb("take", True, "", "接单 #12"),
    "转派": _Verb("reassign", True, "接手人姓名", "转派 #12 张三"),
    "办结": _Verb("resolve", True, "处理说明", "办结 #12 已更换灯泡"),
    "重开": _Verb("reopen", True, "原因", "重开 #12 居民反映仍在漏水"),
    "查询": _Verb("show", True, "", "查询 #12"),
    "待办": _Verb("todo", False, "", "待办"),
    "改类": _Verb("recategorise", True, "类别", "改类 #12 环境卫生"),
    "备注": _Verb("note", True, "内容", "备注 #12 已电话联系居民"),
}

_CATEGORY_NAMES = "、".join(CATEGORY_ZH[key] for key in CATEGORIES if key != "none")

STAFF_HELP = "\n".join([
    "【工作人员命令】工单号写 #12 或 12 都可以；引用工单提醒回复时可以只写命令。",
    "接单 #12 —— 由我负责",
    "转派 #12 张三 —— 转给其他工作人员",
    "办结 #12 已更换灯泡 —— 办结并写处理说明",
    "重开 #12 居民反映仍在漏水 —— 重新打开并写原因",
    "查询 #12 —— 查看工单详情",
    "待办 —— 我负责的未办结工单",
    f"改类 #12 环境卫生 —— 修改类别（{_CATEGORY_NAMES}）",
    "备注 #12 已电话联系居民 —— 添加备注",
    "帮助 —— 显示本说明",
])

# Category words for 改类: English keys, the Chinese names, and short forms. "none" is not a ticket category.
_CATEGORY_WORDS = {key: key for key in CATEGORIES if key != "none"} | {
    zh: key for key, zh in CATEGORY_ZH.items() if key != "none"
} | {
    "报修": "repair", "维修": "repair", "设施": "repair",
    "物业": "property",
    "环境": "environment", "卫生": "environment",
    "秩序": "order",
    "安全": "safety", "隐患": "safety",
    "纠纷": "dispute", "矛盾": "dispute",
    "医疗": "health", "卫生健康": "health", "健康": "health",
    "民生": "welfare", "帮扶": "welfare",
    "政策": "policy", "办事": "policy",
    "其他": "other", "其它": "other",
}

_SEP = r"[\s:：,，、;；]"  # between verb, number and argument (\s covers U+2005 and U+3000)
_DIGITS = r"[0-9０-９]"

# Quote reply: the separator line WeChat puts under the quoted text ("- - - - … -").
_QUOTE_RULE = re.compile(r"\n[ \t]*-(?:[ \t]*-){2,}[ \t]*(?:\n|$)")
# Leading @mentions ("@西园小助手\u2005"): a name up to 40 chars, then whitespace.
_MENTIONS = re.compile(r"^(?:@[^\s@]{1,40}\s+)+")
# First ticket number in the quoted part: "#12", "＃１２".
_QUOTED_NUMBER = re.compile(rf"[#＃]\s*({_DIGITS}{{1,9}})(?!{_DIGITS})")
# A ticket number after a verb: "#12", "＃ 12", "#12号" (anything may follow), or a bare
# "12" / "12号" followed by a separator or the end (so "12栋" is not a ticket number).
_NUMBER = re.compile(
    rf"""{_SEP}*
    (?: [#＃]\s*(?P<hash>{_DIGITS}{{1,9}})(?!{_DIGITS})号?
      | (?P<bare>{_DIGITS}{{1,9}})号?(?={_SEP}|$)
    ){_SEP}*""",
    re.VERBOSE,
)
_LEADING_SEP = re.compile(rf"^{_SEP}+")
_WORDS = re.compile(rf"{_SEP}+")  # splits a name or category from what follows it
# A staff verb counts only when followed by the end, a separator, "#" or a digit:
# "接单 #12" and "接单12" are commands, "接单了吗" is chat.
_STAFF_VERB = re.compile(rf"^({'|'.join(_STAFF_VERBS)})(?=$|{_SEP}|[#＃]|{_DIGITS})")
_HELP = re.compile(r"^(?:帮助|help|命令)[?？!！。.]*$", re.IGNORECASE)
_TRAILING = re.compile(r"[\s?？!！。.~～]*$")  # what may close a resident command
_RESIDENT_STATUS = re.compile(r"^(?:查询进度|查进度|查询|进度|工单进度|我的工单)")
_RESIDENT_WITHDRAW = re.compile(r"^(?:撤销|取消)(?:工单)?")
# Ratings start the reply. 不满意 is tried first (it contains 满意); "满意吗" / "满意度" are not ratings.
_DISSATISFIED = re.compile(r"^(?:很|非常|特别|太|十分|极其)?不(?:太|怎么|是很|是太|大|够)?满意")
_SATISFIED = re.compile(r"^(?:很|非常|特别|挺|比较|十分|蛮|超|相当|还算|还是)?满意(?![吗嘛么度不?？])")


def parse_staff_command(text: str) -> StaffCommand | None:
    """A staff member's command, an "invalid" attempt with a Chinese hint, or None for chat."""
    quoted_number, reply = _split(text)
    too_long, reply = len(reply) > MAX_REPLY_CHARS, reply[:MAX_REPLY_CHARS]
    if _HELP.match(reply):
        return StaffCommand("help", None)
    match = _STAFF_VERB.match(reply)
    if match is None:
        return None
    verb = _STAFF_VERBS[match.group(1)]
    if verb.key == "todo":
        return StaffCommand("todo", None)
    number, rest = _number(reply[match.end():])
    if number is None and rest[:1] in ("#", "＃"):
        return _invalid(f"工单号格式不对，例如：{verb.example}")
    number = number if number is not None else quoted_number
    rest = rest.strip()
    missing = [what for what, absent in (("工单号", number is None), (verb.arg_name, not rest)) if what and absent]
    if missing:
        return _invalid(f"{match.group(1)}需要写{'和'.join(missing)}，例如：{verb.example}")
    if not verb.arg_name:
        return StaffCommand(verb.key, number)
    if too_long:  # refuse rather than cut the note short
        return _invalid(f"内容太长（最多 {MAX_REPLY_CHARS} 字），请精简后重发")
    if verb.key == "reassign":  # "转派 #12 张三", "转派 #12 给 @张三": the first word is the name
        name = _WORDS.split(rest.removeprefix("给").replace("@", " ").strip())
        name = [word for word in name if word]
        if not name:
            return _invalid(f"转派需要写接手人姓名，例如：{verb.example}")
        return StaffCommand("reassign", number, name[0])
    if verb.key == "recategorise":
        word = _WORDS.split(rest)[0].rstrip("。.!！")
        key = _CATEGORY_WORDS.get(word.lower()) or _CATEGORY_WORDS.get(word.removesuffix("类"))
        if key is None:
            return _invalid(f"不认识的类别「{word[:20]}」，可用：{_CATEGORY_NAMES}，例如：{verb.example}")
        return StaffCommand("recategorise", number, key)
    return StaffCommand(verb.key, number, rest)


def parse_resident_command(text: str) -> ResidentCommand | None:
    """A resident's status query, withdrawal or satisfaction rating; None for anything else.

    A bare 撤销 / 取消 (no number, nothing quoted) is "invalid" with a hint; 取消了 etc. are chat (None).
    """
    quoted_number, reply = _split(text)
    if not reply or len(reply) > MAX_RESIDENT_CHARS:
        return None
    for pattern, verb in ((_RESIDENT_STATUS, "status"), (_RESIDENT_WITHDRAW, "withdraw")):
        if match := pattern.match(reply):
            number, rest = _number(reply[match.end():])
            if _TRAILING.match(rest) is None:
                return None
            number = number if number is not None else quoted_number
            if verb == "withdraw" and number is None:
                return ResidentCommand("invalid", None, error="撤销需要写工单号，例如：撤销 #12")
            return ResidentCommand(verb, number)
    for pattern, verb in ((_DISSATISFIED, "dissatisfied"), (_SATISFIED, "satisfied")):
        if match := pattern.match(reply):
            number, rest = _number(reply[match.end():])
            return ResidentCommand(verb, number if number is not None else quoted_number, rest.strip(" \t,，。.!！:："))
    return None


def _split(text: str) -> tuple[int | None, str]:
    """(first #N of a quoted part, the reply without leading @mentions)."""
    if not isinstance(text, str):
        return None, ""
    text = text[:MAX_INPUT_CHARS].strip()
    quoted = ""
    if text.startswith("「"):
        rules = list(_QUOTE_RULE.finditer(text))
        if rules:
            quoted, text = text[: rules[-1].start()], text[rules[-1].end():]
        elif (end := _closing_bracket(text)) > 0:
            quoted, text = text[:end], text[end + 1:]
    found = _QUOTED_NUMBER.search(quoted[:MAX_QUOTE_CHARS])
    reply = _MENTIONS.sub("", text.strip(), count=1).strip()
    return (int(found.group(1)) if found else None), reply


def _closing_bracket(text: str) -> int:
    """Index of the 」 closing the leading 「 (nesting counted), else of the last 」, else -1."""
    depth = 0
    for index, char in enumerate(text):
        if char == "「":
            depth += 1
        elif char == "」":
            depth -= 1
            if depth == 0:
                return index
    return text.rfind("」")


def _number(text: str) -> tuple[int | None, str]:
    """A leading ticket number and the rest; (None, text without leading separators) when absent."""
    match = _NUMBER.match(text)
    if match is None or not (digits := match.group("hash") or match.group("bare")):
        return None, _LEADING_SEP.sub("", text)
    return int(digits), text[match.end():]


def _invalid(error: str) -> StaffCommand:
    return StaffCommand("invalid", None, error=error)
