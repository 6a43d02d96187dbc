"""A classifier loaded once per test module (loading jieba takes about a second)."""

from __future__ import annotations

import pytest

from bot.nlp.classifier import Classifier


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(extra_words=["白杨河", "人工湖", "西园社区", "王网格"])
