"""classify_lines: plain and JSON Lines input, JSON-safe output in input order."""

from __future__ import annotations

import json

from bot.nlp.batch import classify_lines


def test_plain_and_json_lines_in_order(classifier):
    lines = [
        "5栋楼道灯坏了\n",
        json.dumps({"text": "社区医院几点开门？", "id": 7}, ensure_ascii=False) + "\n",
        "收到\n",
        "\n",
        '{"not_text": 1}\n',
        "{broken json\n",
    ]
    out = list(classify_lines(classifier, lines))
    assert [o["text"] for o in out] == ["5栋楼道灯坏了", "社区医院几点开门？", "收到", "",
                                        '{"not_text": 1}', "{broken json"]
    assert [o["intent"] for o in out[:3]] == ["request", "inquiry", "other"]
    for o in out:
        assert set(o) == {"text", "intent", "category", "urgency", "keywords"}
        json.dumps(o, ensure_ascii=False).encode("utf-8")  # always encodable


def test_lone_surrogates_are_made_encodable(classifier):
    lines = [json.dumps({"text": "电梯坏了\ud800"}) + "\n"]
    (out,) = classify_lines(classifier, lines)
    json.dumps(out, ensure_ascii=False).encode("utf-8")
    assert out["intent"] == "request"


def test_is_lazy(classifier):
    def lines():
        yield "电梯坏了"
        raise AssertionError("read too far")

    it = classify_lines(classifier, lines())
    assert next(it)["intent"] == "request"
