"""Chat command parsing: every accepted form, the invalid hints, ratings, and robustness on any text."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import (
    MAX_REPLY_CHARS,
    STAFF_HELP,
    ResidentCommand,
    StaffCommand,
    parse_resident_command,
    parse_staff_command,
)
from bot.nlp.labels import CATEGORIES, CATEGORY_ZH

RULE = "- - - - - - - - - - - - - - -"
ALERT = "「西园小助手：【新工单 #12】设施报修｜一般\n群聊：西园3号楼业主群\n居民：王阿姨\n原话：5栋楼道灯坏了」"


def quoted(reply: str, alert: str = ALERT) -> str:
    """A WeChat quote reply as the transport delivers it."""
    return f"{alert}\n{RULE}\n{reply}"


def staff(verb: str, number: int | None, arg: str = "") -> StaffCommand:
    return StaffCommand(verb, number, arg)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # number forms
        ("接单 #12", staff("take", 12)),
        ("接单#12", staff("take", 12)),
        ("接单 ＃12", staff("take", 12)),
        ("接单 12", staff("take", 12)),
        ("接单12", staff("take", 12)),
        ("接单 #12号", staff("take", 12)),
        ("接单 12号", staff("take", 12)),
        ("接单 １２", staff("take", 12)),
        ("接单＃１２号", staff("take", 12)),
        ("接单\u3000#12", staff("take", 12)),
        ("  接单 #12  ", staff("take", 12)),
        ("接单 #12 马上到", staff("take", 12)),
        # every verb
        ("转派 #12 张三", staff("reassign", 12, "张三")),
        ("转派#12 给 @张三", staff("reassign", 12, "张三")),
        ("转派 12，李四 他负责5栋", staff("reassign", 12, "李四")),
        ("办结#12 已修好", staff("resolve", 12, "已修好")),
        ("办结 12：已更换灯泡", staff("resolve", 12, "已更换灯泡")),
        ("办结 #12: 已更换灯泡", staff("resolve", 12, "已更换灯泡")),
        ("办结 #12，已更换灯泡，居民已确认", staff("resolve", 12, "已更换灯泡，居民已确认")),
        ("办结 #12号 已更换灯泡", staff("resolve", 12, "已更换灯泡")),
        ("重开 #12 居民反映仍在漏水", staff("reopen", 12, "居民反映仍在漏水")),
        ("查询 #12", staff("show", 12)),
        ("查询12", staff("show", 12)),
        ("待办", staff("todo", None)),
        ("待办 ", staff("todo", None)),
        ("备注 #12 已电话联系居民", staff("note", 12, "已电话联系居民")),
        ("帮助", staff("help", None)),
        ("help", staff("help", None)),
        ("HELP", staff("help", None)),
        ("命令", staff("help", None)),
        ("帮助？", staff("help", None)),
        # recategorise: keys, Chinese names, short forms
        ("改类 #12 repair", staff("recategorise", 12, "repair")),
        ("改类 #12 Environment", staff("recategorise", 12, "environment")),
        ("改类 #12 设施报修", staff("recategorise", 12, "repair")),
        ("改类#12 报修", staff("recategorise", 12, "repair")),
        ("改类 #12 维修", staff("recategorise", 12, "repair")),
        ("改类 #12 物业", staff("recategorise", 12, "property")),
        ("改类 #12 环境", staff("recategorise", 12, "environment")),
        ("改类 #12 卫生", staff("recategorise", 12, "environment")),
        ("改类 #12 秩序", staff("recategorise", 12, "order")),
        ("改类 #12 安全", staff("recategorise", 12, "safety")),
        ("改类 #12 纠纷", staff("recategorise", 12, "dispute")),
        ("改类 #12 医疗", staff("recategorise", 12, "health")),
        ("改类 #12 卫生健康", staff("recategorise", 12, "health")),
        ("改类 #12 民生", staff("recategorise", 12, "welfare")),
        ("改类 #12 帮扶", staff("recategorise", 12, "welfare")),
        ("改类 #12 政策", staff("recategorise", 12, "policy")),
        ("改类 #12 办事", staff("recategorise", 12, "policy")),
        ("改类 #12 其他", staff("recategorise", 12, "other")),
        ("改类 #12 环境卫生类", staff("recategorise", 12, "environment")),
        ("改类 #12 环境卫生，垃圾问题", staff("recategorise", 12, "environment")),
        ("转派 #12 张三，他负责5栋", staff("reassign", 12, "张三")),
        # mentions of the bot
        ("@西园小助手\u2005接单 #12", staff("take", 12)),
        ("@西园小助手 办结 #12 已修好", staff("resolve", 12, "已修好")),
        ("@西园小助手\u2005@张三\u2005转派 #12 张三", staff("reassign", 12, "张三")),
        # quote replies
        (quoted("接单"), staff("take", 12)),
        (quoted("@西园小助手\u2005接单"), staff("take", 12)),
        (quoted("办结 已修好"), staff("resolve", 12, "已修好")),
        (quoted("办结：已修好"), staff("resolve", 12, "已修好")),
        (quoted("接单 #30"), staff("take", 30)),
        (quoted("转派 王五"), staff("reassign", 12, "王五")),
        (quoted("改类 环境卫生"), staff("recategorise", 12, "environment")),
        (quoted("待办"), staff("todo", None)),
        (quoted("收到"), None),
        (ALERT + "办结 已修好", staff("resolve", 12, "已修好")),  # no dash line
        (ALERT + "\n接单", staff("take", 12)),
        ("「西园小助手：【新工单 #7】原话：他说「快来」」\n接单", staff("take", 7)),  # nested 「」
        # chat
        ("收到", None),
        ("好的", None),
        ("今天谁值班", None),
        ("接单了吗", None),
        ("办结了没有", None),
        ("查询一下电费怎么交", None),
        ("#12", None),
        ("12", None),
        ("", None),
        ("帮助一下张阿姨", None),
    ],
)
def test_staff_commands(text, expected):
    assert parse_staff_command(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("办结 #12", "办结需要写处理说明，例如：办结 #12 已更换灯泡"),
        ("办结", "办结需要写工单号和处理说明，例如：办结 #12 已更换灯泡"),
        ("办结 已修好", "办结需要写工单号，例如：办结 #12 已更换灯泡"),
        ("转派 #12", "转派需要写接手人姓名，例如：转派 #12 张三"),
        ("转派 #12 给 @", "转派需要写接手人姓名，例如：转派 #12 张三"),
        ("重开 #12", "重开需要写原因，例如：重开 #12 居民反映仍在漏水"),
        ("备注 #12", "备注需要写内容，例如：备注 #12 已电话联系居民"),
        ("改类 #12", "改类需要写类别，例如：改类 #12 环境卫生"),
        ("接单", "接单需要写工单号，例如：接单 #12"),
        ("查询", "查询需要写工单号，例如：查询 #12"),
        ("接单 #", "工单号格式不对，例如：接单 #12"),
        ("接单 #1234567890", "工单号格式不对，例如：接单 #12"),
        (quoted("办结"), "办结需要写处理说明，例如：办结 #12 已更换灯泡"),
        ("「没有工单号的引用」\n" + RULE + "\n接单", "接单需要写工单号，例如：接单 #12"),
        ("「原话：他说「快来」\n接单", "接单需要写工单号，例如：接单 #12"),  # unbalanced: up to the last 」
    ],
)
def test_staff_invalid_hints(text, error):
    assert parse_staff_command(text) == StaffCommand("invalid", None, error=error)


def test_unknown_category_lists_the_names():
    command = parse_staff_command("改类 #12 火星")
    assert command is not None and command.verb == "invalid"
    assert command.error.startswith("不认识的类别「火星」")
    assert all(CATEGORY_ZH[key] in command.error for key in CATEGORIES if key != "none")
    assert parse_staff_command("改类 #12 none").verb == "invalid"  # not a ticket category


def test_overlong_note_is_refused_not_cut():
    note = "修" * (MAX_REPLY_CHARS - 8)
    assert parse_staff_command("办结 #12 " + note) == staff("resolve", 12, note)
    command = parse_staff_command("办结 #12 " + "修" * MAX_REPLY_CHARS)
    assert command is not None and command.verb == "invalid" and "太长" in command.error


def test_help_lists_every_command():
    for word in ("接单 #12", "转派 #12", "办结 #12", "重开 #12", "查询 #12", "待办", "改类 #12", "备注 #12", "帮助"):
        assert word in STAFF_HELP


def resident(verb: str, number: int | None, arg: str = "") -> ResidentCommand:
    return ResidentCommand(verb, number, arg)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("查询", resident("status", None)),
        ("进度", resident("status", None)),
        ("我的工单", resident("status", None)),
        ("查进度", resident("status", None)),
        ("查询 #12", resident("status", 12)),
        ("进度＃１２", resident("status", 12)),
        ("我的工单 12", resident("status", 12)),
        ("查询？", resident("status", None)),
        ("@西园小助手\u2005进度", resident("status", None)),
        (quoted("进度", "「西园小助手：您反映的问题已登记，工单号 #8（设施报修）。」"), resident("status", 8)),
        ("撤销 #12", resident("withdraw", 12)),
        ("取消 #12", resident("withdraw", 12)),
        ("取消12", resident("withdraw", 12)),
        ("撤销工单 #12", resident("withdraw", 12)),
        (quoted("撤销"), resident("withdraw", 12)),
        ("撤销", ResidentCommand("invalid", None, error="撤销需要写工单号，例如：撤销 #12")),
        ("取消", ResidentCommand("invalid", None, error="撤销需要写工单号，例如：撤销 #12")),
        # ratings
        ("满意", resident("satisfied", None)),
        ("非常满意", resident("satisfied", None)),
        ("很满意", resident("satisfied", None)),
        ("满意👍", resident("satisfied", None, "👍")),
        ("满意，谢谢", resident("satisfied", None, "谢谢")),
        ("满意！", resident("satisfied", None)),
        ("满意 #12", resident("satisfied", 12)),
        (quoted("满意", "「西园小助手：工单 #5 已办结，您满意吗？」"), resident("satisfied", 5)),
        ("不满意", resident("dissatisfied", None)),
        ("不太满意", resident("dissatisfied", None)),
        ("很不满意", resident("dissatisfied", None)),
        ("不是很满意", resident("dissatisfied", None)),
        ("不满意，还是没修好", resident("dissatisfied", None, "还是没修好")),
        ("不满意 #12 还是漏水", resident("dissatisfied", 12, "还是漏水")),
        # not commands
        ("满意吗", None),
        ("满意吗？", None),
        ("满意度调查什么时候做", None),
        ("对物业很满意", None),
        ("我对这个处理结果其实还算比较满意的，就是有点慢了希望改进一下", None),
        ("不满意" + "，" * 30, None),
        ("查询一下电费", None),
        ("取消了吗", None),
        ("撤销 #12 算了还是要修", None),
        ("接单 #12", None),
        ("5栋楼道灯坏了", None),
        ("", None),
    ],
)
def test_resident_commands(text, expected):
    assert parse_resident_command(text) == expected


# -- properties ---------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # includes lone surrogates, NUL, controls
COMMAND_WORDS = st.sampled_from(
    ["", "接单", "转派", "办结", "重开", "查询", "待办", "改类", "备注", "帮助", "满意", "不满意", "撤销", "进度",
     "@西园小助手\u2005", "「", "」", "#", "＃", "１", "9", "\n" + RULE + "\n", "「西园小助手：【新工单 #3】」"]
)
PIECES = st.lists(st.one_of(COMMAND_WORDS, st.text(ANY_CHAR, max_size=20)), max_size=12).map("".join)
# Big strings: a piece repeated up to 100,000 characters.
BIG = st.tuples(PIECES.filter(bool), st.integers(1, 100_000)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])


def assert_fast_and_typed(text: str) -> None:
    start = time.perf_counter()
    command = parse_staff_command(text)
    assert command is None or isinstance(command, StaffCommand)
    rating = parse_resident_command(text)
    assert rating is None or isinstance(rating, ResidentCommand)
    assert time.perf_counter() - start < 0.5


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(ANY_CHAR), PIECES))
def test_any_text_never_raises(text):
    assert_fast_and_typed(text)


@settings(max_examples=40, deadline=None)
@given(BIG)
def test_big_text_never_raises_and_is_fast(text):
    assert_fast_and_typed(text)


@pytest.mark.parametrize(
    "text",
    [
        "\x00" * 100_000,
        "\ud800" * 100_000,
        "接单 " + "#" * 100_000,
        "「" * 100_000,
        "「" + "」" * 100_000,
        "「" + "\n- - -" * 30_000,
        "「" + "\n-" + " -" * 50_000,
        "@" * 100_000,
        "@a " * 40_000,
        "办结 #12 " + "😀" * 100_000,
        "满意" * 50_000,
        "１" * 100_000,
        "接单 " + "１" * 100_000,
        '<?xml version="1.0"?><msg><appmsg appid="" sdkver="0"><title>接单 #12</title><type>57</type>'
        "<refermsg><content>【新工单 #12】</content></refermsg></appmsg></msg>" * 200,
    ],
)
def test_hostile_inputs(text):
    assert_fast_and_typed(text)


def test_non_text_is_not_a_command():
    assert parse_staff_command(None) is None  # type: ignore[arg-type]
    assert parse_resident_command(b"\xe6\xbb\xa1\xe6\x84\x8f") is None  # type: ignore[arg-type]


# Round trip: every accepted way of writing a command gives back (verb, number, arg).
STAFF_VERBS = {
    "take": ("接单", "", ""),
    "reassign": ("转派", "张三", "张三"),
    "resolve": ("办结", "已更换灯泡", "已更换灯泡"),
    "reopen": ("重开", "居民反映仍在漏水", "居民反映仍在漏水"),
    "show": ("查询", "", ""),
    "recategorise": ("改类", "环境卫生", "environment"),
    "note": ("备注", "已联系物业，明天上门", "已联系物业，明天上门"),
}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def staff_command_texts(draw):
    """(text, verb, number, arg) in one of the accepted spellings."""
    verb = draw(st.sampled_from(sorted(STAFF_VERBS)))
    word, written, arg = STAFF_VERBS[verb]
    number = draw(st.integers(1, 10**7))
    digits = str(number) if draw(st.booleans()) else str(number).translate(FULL_WIDTH)
    hash_ = draw(st.sampled_from(["#", "＃", ""]))
    gap = draw(st.sampled_from(["", " ", "  ", "\u3000", "：", ":", "，"]))
    ticket = f"{hash_}{digits}{draw(st.sampled_from(['', '号']))}"
    seps = [" ", ":", "：", ",", "，", "\u3000", " ："] if written else ["", " "]
    sep = draw(st.sampled_from(seps))
    mention = draw(st.sampled_from(["", "@西园小助手\u2005", "@西园小助手 "]))
    form = draw(st.sampled_from(["plain", "quote-verb-only", "quote-with-number", "quote-no-rule"]))
    if form == "plain":
        text = f"{mention}{word}{gap}{ticket}{sep}{written}"
    elif form == "quote-with-number":  # the reply's number wins over the quoted one
        text = quoted(f"{mention}{word}{gap}{ticket}{sep}{written}", "「西园小助手：【新工单 #999999999】」")
    else:
        alert = f"「西园小助手：【居民投诉 #{number}】设施报修｜加急\n原话：「楼上漏水」」"
        reply = f"{mention}{word}{' ' if written else ''}{written}"
        text = quoted(reply, alert) if form == "quote-verb-only" else alert + reply
    return text, verb, number, arg


@settings(max_examples=500, deadline=None)
@given(staff_command_texts())
def test_staff_round_trip(case):
    text, verb, number, arg = case
    assert parse_staff_command(text) == StaffCommand(verb, number, arg)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([("查询", "status"), ("进度", "status"), ("我的工单", "status"), ("撤销", "withdraw"),
                     ("取消", "withdraw"), ("满意", "satisfied"), ("非常满意", "satisfied"),
                     ("不满意", "dissatisfied"), ("很不满意", "dissatisfied")]),
    st.integers(1, 10**7),
    st.sampled_from(["#", "＃", ""]),
    st.sampled_from(["", " ", "\u3000"]),
    st.booleans(),
)
def test_resident_round_trip(word_verb, number, hash_, gap, full_width):
    word, verb = word_verb
    digits = str(number).translate(FULL_WIDTH) if full_width else str(number)
    expected = ResidentCommand(verb, number)  # type: ignore[arg-type]
    assert parse_resident_command(f"{word}{gap}{hash_}{digits}") == expected
