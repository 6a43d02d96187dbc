"""What a report is about — places and objects — so that two reports of one fault can be matched."""

from __future__ import annotations

import re
from typing import Iterable

from bot.nlp.classifier import Classification

_NUM = r"(?:\d+|[一二三四五六七八九十两]+)"
# 3号楼 / 5栋 / 2单元 / 东门 / 地下车库 …; the number and its unit make the place.
_PLACE = re.compile(rf"({_NUM})\s*(号楼|栋|幢|单元|号门|层|楼)")
_SPOTS = ("东门", "西门", "南门", "北门", "正门", "后门", "地下车库", "车库", "广场", "菜市场", "垃圾站",
          "篮球场", "健身器材", "花园", "大门", "门口", "楼顶", "天台", "河边", "湖边")
_CN_DIGITS = {"一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
              "八": "8", "九": "9", "十": "10"}
_UNIT = {"号楼": "楼", "栋": "楼", "幢": "楼", "楼": "楼", "单元": "单元", "号门": "门", "层": "层"}


def _number(text: str) -> str:
    return "".join(_CN_DIGITS.get(ch, ch) for ch in text) if not text.isdigit() else str(int(text))


def places(text: str, known: Iterable[str] = ()) -> set[str]:
    """Normalised places: 3号楼 and 三栋 both become 3楼; configured place names as they are."""
    found = {f"{_number(n)}{_UNIT[u]}" for n, u in _PLACE.findall(text[:2000])}
    found |= {spot for spot in _SPOTS if spot in text}
    found |= {name for name in known if name and name in text}
    return found


# Category cues that describe a state or an action, not a thing: 「电梯坏了」 and 「路灯坏了」 differ.
_GENERIC = {"坏了", "坏", "损坏", "故障", "修", "修一下", "维修", "修理", "报修", "不亮", "不动", "不能用", "用不了",
            "漏", "漏水", "堵", "堵了", "堵塞", "没人管", "问题", "处理", "清理", "打扫", "臭", "脏", "乱",
            "太吵", "吵", "噪音", "危险", "隐患", "投诉", "举报", "办理", "咨询", "申请"}


def objects(result: Classification) -> set[str]:
    """The things the report is about (电梯, 路灯, 垃圾 …), from the words that decided its category."""
    words = {h.word for h in result.hits if h.role.startswith("category:") and "+" not in h.word}
    specific = words - _GENERIC
    return specific or words


def signature(text: str, result: Classification, known_places: Iterable[str] = ()) -> dict:
    return {"places": sorted(places(text, known_places)), "objects": sorted(objects(result))}


def same_problem(a: dict, b: dict) -> bool:
    """Same object, and no conflicting place (both name places → they must share one)."""
    objects_a, objects_b = set(a.get("objects", ())), set(b.get("objects", ()))
    # 电梯 and 电梯困人, 垃圾 and 垃圾桶 are the same thing.
    if not any(x in y or y in x for x in objects_a for y in objects_b):
        return False
    places_a, places_b = set(a.get("places", ())), set(b.get("places", ()))
    # Buildings are the strongest cue: two different buildings are two different problems.
    buildings_a = {p for p in places_a if p.endswith("楼")}
    buildings_b = {p for p in places_b if p.endswith("楼")}
    if buildings_a and buildings_b and not buildings_a & buildings_b:
        return False
    if places_a and places_b and not places_a & places_b:
        return False
    return True
