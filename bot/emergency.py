"""First advice for residents in an emergency: the right number and what to do right now."""

from __future__ import annotations

from bot.config import HotlineSettings

# (words that identify the kind of danger, advice); the first kind found wins, most specific first.
_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("燃气", "煤气", "天然气", "液化气"),
     "请立即关闭燃气总阀，打开门窗通风，不要开关电器、不要打电话或使用明火，人先撤到室外，再拨打{gas}。"),
    (("着火", "失火", "火灾", "冒烟", "起火", "烧起来", "浓烟", "火苗"),
     "请立即拨打 {fire} 报警，用湿毛巾捂住口鼻、弯腰沿安全通道撤离，不要乘电梯。"),
    (("落水", "溺水", "掉河", "掉进河", "掉进湖", "掉水", "掉到水", "淹水里", "掉进水"),
     "请立即拨打 {medical} 和 {police}，向水中抛救生圈、绳子或木板，不会游泳的不要下水施救。"),
    (("困在电梯", "困电梯", "电梯困", "关在电梯", "卡在电梯", "被困"),
     "被困的居民请保持冷静，按电梯里的警铃或拨打电梯内的救援电话（96333），不要扒门，物业和网格员马上到。"),
    (("打架", "打人", "斗殴", "持刀", "砍人", "行凶", "家暴"),
     "请立即拨打 {police}，远离冲突现场，保护好自己。"),
    (("孩子不见", "孩子走丢", "走失", "找不到孩子", "小孩不见"),
     "请立即拨打 {police}，说清孩子的衣着和最后出现的位置，网格员马上协助寻找。"),
    (("晕倒", "昏迷", "受伤", "流血", "摔倒", "没有呼吸", "没反应", "不省人事", "抽搐"),
     "请立即拨打 {medical}，不要随意搬动伤者；如有必要同时拨打 {police}。"),
    (("进水", "淹了", "漫水", "水漫", "爆管", "水管爆"),
     "请先关闭家里的水阀总闸并断电，把贵重物品移到高处，网格员和物业马上到。"),
)

_GENERAL = "如有生命危险请立即拨打 {medical} 或 {police}，网格员和值班人员马上处理。"


def first_advice(text: str, hotlines: HotlineSettings) -> str:
    numbers = {
        "fire": hotlines.fire,
        "medical": hotlines.medical,
        "police": hotlines.police,
        "gas": f" {hotlines.gas} 燃气抢修" if hotlines.gas else "燃气公司抢修电话",
    }
    for words, advice in _KINDS:
        if any(word in text for word in words):
            return advice.format(**numbers)
    return _GENERAL.format(**numbers)
