"""The safety-tip content (bot/content/*.toml): it loads, renders, and covers what it promises."""

from __future__ import annotations

import re
import string
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONTENT = Path(__file__).resolve().parents[2] / "bot" / "content"
FILES = {"anti_fraud": "fraud", "anti_drowning": "drown"}

PLACEHOLDERS = {"community", "date", "rivers", "hotline_fraud", "police", "medical"}
SAMPLE = {
    "community": "西园社区",
    "date": "11月30日",
    "rivers": "白杨河、人工湖",
    "hotline_fraud": "96110",
    "police": "110",
    "medical": "120",
}
MIN_CHARS, MAX_CHARS = 60, 160

FRAUD_TYPES = (
    "刷单返利",
    "虚假投资理财",
    "冒充电商物流客服",
    "冒充公检法",
    "虚假网络贷款",
    "虚假征信",
    "冒充领导熟人",
    "网络婚恋交友",
    "网络游戏虚假交易",
    "冒充客服退款",
)

# 教育部“防溺水六不一会”: each rule, by words its tip must contain.
SIX_NOT_ONE_CAN = (
    ("不私自下水游泳",),
    ("不擅自与他人结伴游泳",),
    ("不在无家长或教师带领的情况下游泳",),
    ("不到无安全设施、无救援人员的水域游泳",),
    ("不到不熟悉的水域游泳",),
    ("不熟悉水性的学生不擅自下水施救",),
    ("学会基本的自护自救方法",),
)


def load(name: str) -> dict[str, Any]:
    with (CONTENT / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)


def render(text: str, **overrides: str) -> str:
    return text.format(**{**SAMPLE, **overrides})


def tips(name: str) -> list[dict[str, str]]:
    return load(name)["tips"]


def all_text(name: str) -> str:
    return "\n".join(tip["text"] for tip in tips(name))


@pytest.fixture(params=sorted(FILES))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_file_loads_with_title_and_tips(name: str) -> None:
    data = load(name)
    assert set(data) == {"title", "tips"}
    assert isinstance(data["title"], str) and data["title"].strip()
    assert "【" not in data["title"] and "】" not in data["title"]  # the bot adds the brackets
    for tip in data["tips"]:
        assert set(tip) == {"id", "topic", "text"}, tip
        assert all(isinstance(value, str) and value.strip() for value in tip.values()), tip
        assert tip["text"] == tip["text"].strip(), tip["id"]


def test_at_least_thirty_tips(name: str) -> None:
    assert len(tips(name)) >= 30


def test_ids_unique_stable_looking_and_in_order(name: str) -> None:
    ids = [tip["id"] for tip in tips(name)]
    pattern = re.compile(rf"^{FILES[name]}-\d{{3}}$")
    assert [i for i in ids if not pattern.match(i)] == []
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert numbers == sorted(numbers), "add new tips at the end with the next free number"


def test_ids_unique_across_files() -> None:
    ids = [tip["id"] for name in FILES for tip in tips(name)]
    assert len(ids) == len(set(ids))


def test_only_known_placeholders(name: str) -> None:
    for tip in tips(name):
        for _literal, field, spec, conversion in string.Formatter().parse(tip["text"]):
            if field is None:
                continue
            assert field in PLACEHOLDERS, (tip["id"], field)
            assert not spec and conversion is None, (tip["id"], field)


def test_every_tip_renders_without_braces(name: str) -> None:
    for tip in tips(name):
        rendered = render(tip["text"])
        assert "{" not in rendered and "}" not in rendered, tip["id"]
        # Other values render as well (e.g. a different community and a single river).
        rendered = render(tip["text"], community="东湖社区", rivers="东湖", date="7月1日")
        assert "{" not in rendered and "}" not in rendered, tip["id"]


def test_length_fits_one_group_message(name: str) -> None:
    wrong = {}
    for tip in tips(name):
        length = len(render(tip["text"]))
        if not MIN_CHARS <= length <= MAX_CHARS:
            wrong[tip["id"]] = length
    assert wrong == {}


def test_no_links_and_no_other_phone_numbers(name: str) -> None:
    for tip in tips(name):
        text = tip["text"]
        assert not re.search(r"https?:|www\.|\.(com|cn|net|org)\b", text, re.I), tip["id"]
        # Hotline numbers come from placeholders, so a template holds no long run of digits.
        assert not re.search(r"\d{3,}", text), tip["id"]
        numbers = set(re.findall(r"\d{3,}", render(text)))
        assert numbers <= {"96110", "110", "120"}, (tip["id"], numbers)


def test_no_duplicate_texts() -> None:
    seen: dict[str, str] = {}
    for name in FILES:
        for tip in tips(name):
            key = re.sub(r"\s+", "", tip["text"])
            assert key not in seen, (tip["id"], seen.get(key))
            seen[key] = tip["id"]


def test_community_and_rivers_are_used_sparingly(name: str) -> None:
    items = tips(name)
    with_community = [t for t in items if "{community}" in t["text"]]
    assert 2 <= len(with_community) <= len(items) // 4
    with_rivers = [t for t in items if "{rivers}" in t["text"]]
    if name == "anti_drowning":
        assert 3 <= len(with_rivers) <= 8
    else:
        assert with_rivers == []


# ── 防诈骗 ──────────────────────────────────────────────────


def test_each_of_the_ten_fraud_types_has_several_tips() -> None:
    topics = Counter(tip["topic"] for tip in tips("anti_fraud"))
    assert {kind: topics[kind] for kind in FRAUD_TYPES if topics[kind] < 3} == {}


def test_96110_means_answer_it_is_the_police() -> None:
    warning = [t["text"] for t in tips("anti_fraud") if t["topic"] == "96110"]
    assert warning and all("{hotline_fraud}" in text for text in warning)
    assert any("接" in text and "公安" in text and "预警" in text for text in warning)


def test_110_for_reporting() -> None:
    assert any("{police}" in t["text"] and "报警" in t["text"] for t in tips("anti_fraud"))


@pytest.mark.parametrize(
    "words",
    [
        ("链接", "不要点"),
        ("验证码", "不要给"),
        ("陌生来电",),
        ("核实",),
        ("国家反诈中心",),
        ("老人",),
        ("学生",),
        ("不要出租、出借",),
    ],
)
def test_general_fraud_rules_are_covered(words: tuple[str, ...]) -> None:
    assert any(all(word in t["text"] for word in words) for t in tips("anti_fraud")), words


# ── 防溺水 ──────────────────────────────────────────────────


def test_six_not_one_can_listed_in_full_and_each_rule_has_its_own_tip() -> None:
    items = [t for t in tips("anti_drowning") if t["topic"] == "六不一会"]
    assert any(all(rule[0] in t["text"] for rule in SIX_NOT_ONE_CAN) for t in items)
    for rule in SIX_NOT_ONE_CAN:
        own = [t for t in items if all(w in t["text"] for w in rule)]
        assert len(own) >= 2, rule  # the summary plus a tip of its own


@pytest.mark.parametrize(
    "words",
    [
        ("呼救", "{police}", "{medical}"),
        ("救生圈", "绳子", "竹竿", "木板"),
        ("手拉手",),
        ("不会游泳", "不要下水"),
        ("仰面漂浮",),
        ("抽筋",),
        ("心肺复苏",),
        ("暑假", "周末", "放学后"),
        ("夏季",),
        ("汛期",),
        ("五一",),
        ("端午",),
        ("救生衣",),
    ],
)
def test_drowning_topics_are_covered(words: tuple[str, ...]) -> None:
    assert any(all(word in t["text"] for word in words) for t in tips("anti_drowning")), words


def test_readme_documents_the_placeholders() -> None:
    readme = (CONTENT / "README.md").read_text(encoding="utf-8")
    for placeholder in PLACEHOLDERS:
        assert "{" + placeholder + "}" in readme
    for name in FILES:
        assert f"{name}.toml" in readme
