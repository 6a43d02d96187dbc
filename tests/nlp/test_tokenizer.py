"""Normalisation and tokenization."""

from __future__ import annotations

import marshal
import time

import pytest

from bot.nlp.lexicon import load_lexicon
from bot.nlp.tokenizer import MAX_CHARS, Tokenizer


@pytest.fixture(scope="module")
def tokenizer(classifier):
    return classifier.tokenizer


def test_full_width_to_half_width(tokenizer):
    text, _ = tokenizer.normalize("ＡＢＣ１２３？！")
    assert text == "abc123?!"


def test_traditional_to_simplified(tokenizer):
    text, _ = tokenizer.normalize("電梯壞了，請幫忙")
    assert text == "电梯坏了,请帮忙"


def test_strips_emoticon_codes_mentions_and_urls(tokenizer):
    text, _ = tokenizer.normalize("@物业小王\u2005电梯坏了[捂脸][Facepalm] 看 https://example.com/a?b=1 这里")
    assert "捂脸" not in text and "facepalm" not in text
    assert "物业小王" not in text
    assert "example" not in text
    assert "电梯坏了" in text and "这里" in text


def test_removes_control_characters_and_lone_surrogates(tokenizer):
    text, _ = tokenizer.normalize("电梯\x00坏了\ud800")
    assert text == "电梯坏了"


def test_xml_card_keeps_title_only(tokenizer):
    card = ('<?xml version="1.0"?><msg><appmsg appid="" sdkver="0"><title><![CDATA[社区通知]]>'
            '</title><des>明天停水</des><url>https://mp.weixin.qq.com/s/x</url></appmsg></msg>')
    text, is_card = tokenizer.normalize(card)
    assert is_card
    assert "社区通知" in text and "明天停水" in text
    assert "<" not in text and "weixin" not in text


def test_length_is_capped(tokenizer):
    text, _ = tokenizer.normalize("好" * 100_000)
    assert len(text) <= MAX_CHARS


def test_lexicon_words_stay_whole(tokenizer):
    tokens = tokenizer.cut("楼道灯坏了没人管")
    assert "楼道灯" in tokens and "没人管" in tokens


def test_extra_words_are_tokens(tokenizer):
    assert "白杨河" in tokenizer.cut("白杨河边的护栏断了")


def test_cut_is_fast_on_long_text(tokenizer):
    started = time.perf_counter()
    tokenizer.prepare("电梯坏了麻烦修一下" * 1200)
    assert time.perf_counter() - started < 1.0


def test_the_dictionary_read_from_jiebas_cache_is_whole(tmp_path, monkeypatch):
    """The cache is read in one piece (bot/nlp/tokenizer.py): a fresh cache, written by jieba itself,
    must come back with every entry, and words segment as with the dictionary built from scratch."""
    monkeypatch.setenv("GRIDBOT_JIEBA_CACHE_DIR", str(tmp_path))
    built = Tokenizer(load_lexicon())  # no cache yet: jieba builds the dictionary and writes the cache
    with open(tmp_path / "jieba.cache", "rb") as cache:
        written, _ = marshal.load(cache)
    loaded = Tokenizer(load_lexicon())  # from the cache
    assert len(written) > 300_000
    assert loaded._jieba.FREQ == built._jieba.FREQ and loaded._jieba.total == built._jieba.total
    text = "西园3号楼二单元的电梯坏了，麻烦物业尽快派人来修一下"
    assert loaded.prepare(text).tokens == built.prepare(text).tokens
