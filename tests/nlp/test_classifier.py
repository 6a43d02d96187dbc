"""Behaviour, robustness and explainability of the classifier (DESIGN.md §1)."""

from __future__ import annotations

import time

import pytest

from bot.nlp.classifier import Classification, Classifier, Hit
from bot.nlp.labels import CATEGORIES, INTENTS, URGENCIES


@pytest.mark.parametrize("text, intent, category, urgency", [
    ("5栋楼道灯坏了", "request", "repair", "normal"),
    ("楼道灯坏了一个月了也没人管", "complaint", "repair", "normal"),
    ("社区医院几点开门？", "inquiry", "health", "normal"),
    ("办理居住证需要什么材料", "inquiry", "policy", "normal"),
    ("电梯修好了谢谢物业", "other", "none", "normal"),
    ("收到", "other", "none", "normal"),
    ("好的👍", "other", "none", "normal"),
    ("【反诈提醒】请大家不要点击陌生链接，不要向陌生人转账", "other", "none", "normal"),
    ("不是投诉，就是说说", "other", "none", "normal"),
    ("今天反诈讲座讲得很好", "other", "none", "normal"),
    ("楼上装修噪音太大了，天天吵到半夜", "complaint", "order", "normal"),
    ("有人被困在电梯里了，快来人", "request", None, "emergency"),
    ("我家厨房有很重的煤气味", "request", "safety", "emergency"),
    ("人工湖有小孩落水了", "request", "safety", "emergency"),
    ("2号楼停水了", "request", "repair", "urgent"),
    ("白杨河边的护栏断了", "request", "safety", "urgent"),
    ("两室一厅出租，有意者私聊", "other", "none", "normal"),
])
def test_design_examples(classifier, text, intent, category, urgency):
    result = classifier.classify(text)
    assert result.intent == intent, result
    if category is not None:
        assert result.category == category, result
    assert result.urgency == urgency, result


@pytest.mark.parametrize("text", [
    "", " ", "\n", "😂😂😂", "[捂脸][捂脸]", "@张三\u2005", "https://example.com",
    "\x00", "\ud800", "电梯\ud800坏了\x00", "<msg><appmsg><title>链接</title></appmsg></msg>",
    "<?xml version=\"1.0\"?><msg><appmsg><title><![CDATA[【通知】]]></title></appmsg></msg>",
    "<<<>>>", "?" * 50, "电梯坏了" * 25_000, "\ud83d\ude00" * 10,
])
def test_never_raises_and_returns_valid_labels(classifier, text):
    result = classifier.classify(text)
    assert isinstance(result, Classification)
    assert result.intent in INTENTS and result.category in CATEGORIES and result.urgency in URGENCIES
    assert (result.category == "none") == (result.intent == "other")
    if result.intent == "other":
        assert result.urgency == "normal"


@pytest.mark.parametrize("text", ["", "😂😂😂", "[捂脸]", "\x00", "\ud800", "@张三\u2005"])
def test_empty_and_noise_are_other(classifier, text):
    assert classifier.classify(text).intent == "other"


def test_non_string_input_does_not_raise(classifier):
    assert classifier.classify(None).intent == "other"  # type: ignore[arg-type]


def test_bounded_time_on_long_messages(classifier):
    for size in (10_000, 100_000):
        text = ("楼道灯坏了麻烦修一下" * size)[:size]
        started = time.perf_counter()
        result = classifier.classify(text)
        assert time.perf_counter() - started < 1.0
        assert result.intent == "request"


def test_voice_to_text_without_punctuation(classifier):
    result = classifier.classify("那个我们三号楼的电梯又坏了你们能不能派人来看一下谢谢")
    assert result.intent == "request" and result.category == "repair"


def test_traditional_and_typos(classifier):
    assert classifier.classify("電梯壞了，麻煩來修一下").intent == "request"
    result = classifier.classify("电悌坏了")
    assert result.category == "repair" and "电梯" in result.keywords


def test_mentions_and_emoticons_are_ignored(classifier):
    result = classifier.classify("@物业小王\u2005楼道灯不亮了[捂脸]麻烦换一下")
    assert result.intent == "request" and result.category == "repair"


def test_keywords_explain_the_decision(classifier):
    result = classifier.classify("电梯坏了，麻烦尽快修一下")
    assert result.hits and all(isinstance(h, Hit) for h in result.hits)
    assert {"电梯", "坏了", "麻烦"} <= set(result.keywords)
    weights = [h.weight for h in result.hits]
    assert weights == sorted(weights, reverse=True)
    roles = {h.role for h in result.hits}
    assert "category:repair" in roles and "cue:ask" in roles
    assert len(result.keywords) == len(set(result.keywords))


def test_other_results_carry_their_cues(classifier):
    result = classifier.classify("收到，谢谢")
    assert {h.role for h in result.hits} >= {"cue:thanks"}


def test_urgency_hits_are_reported(classifier):
    result = classifier.classify("3栋有人晕倒了")
    assert result.urgency == "emergency"
    assert any(h.role == "urgency:emergency" for h in result.hits)


def test_as_dict(classifier):
    d = classifier.classify("电梯坏了").as_dict()
    assert set(d) == {"intent", "category", "urgency", "keywords"}
    assert d["keywords"] and all(isinstance(k, str) for k in d["keywords"])


def test_actionable_property(classifier):
    assert classifier.classify("电梯坏了").actionable
    assert not classifier.classify("谢谢").actionable


def test_extra_words_change_tokenization():
    plain = Classifier()
    extra = Classifier(extra_words=["杨柳湾"])
    assert "杨柳湾" not in plain.tokenizer.cut("杨柳湾的路灯坏了")
    assert "杨柳湾" in extra.tokenizer.cut("杨柳湾的路灯坏了")
    # a private tokenizer: the other instance is unaffected
    assert "杨柳湾" not in plain.tokenizer.cut("杨柳湾的路灯坏了")
    assert extra.classify("杨柳湾的路灯坏了").category == "repair"


def test_classify_is_pure(classifier):
    a = classifier.classify("楼道灯坏了一个月了也没人管")
    b = classifier.classify("楼道灯坏了一个月了也没人管")
    assert a == b


def test_random_text_never_raises(classifier):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(max_size=300))
    def check(text):
        result = classifier.classify(text)
        assert result.intent in INTENTS and result.category in CATEGORIES
        assert result.urgency in URGENCIES

    check()
