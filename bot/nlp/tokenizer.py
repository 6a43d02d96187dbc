"""A private jieba tokenizer with gridbot's normalisation.

Normalisation (one ``str.translate`` plus a few guarded regexes):
control characters, NUL and lone surrogates removed; full-width ASCII → half-width;
ASCII lower-cased; traditional → simplified characters (lexicon/t2s.txt);
WeChat [表情] codes, @mentions, URLs and XML app-card markup stripped; the text is
capped at ``MAX_CHARS`` so that tokenization time is bounded.
"""

from __future__ import annotations

import logging
import marshal
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from typing import Iterable

from .lexicon import Lexicon

MAX_CHARS = 3000  # characters kept (from the start) for classification

_URL_RE = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.I)
_MENTION_RE = re.compile(r"@[^\s@\u2005]{1,16}?(?:[\u2005\s]|$)")
_EMOTICON_RE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]")
_TAG_RE = re.compile(r"<[^<>]{0,1000}>")
_CARD_FIELDS_RE = re.compile(r"<(title|des|digest)>(.{0,500}?)</\1>", re.S)
_SPACES_RE = re.compile(r"\s{2,}")


class _WholeFileMarshal:
    """jieba's ``marshal`` with a quicker ``load``.

    jieba reads its 9 MB prefix-dictionary cache with ``marshal.load(file)``, which reads the file
    a few bytes per call: about 1 s, most of gridbot's start-up. Reading the file at once and
    unmarshalling the bytes gives the same dictionary in a third of the time.
    """

    dump = staticmethod(marshal.dump)

    @staticmethod
    def load(file):
        return marshal.loads(file.read())


def _import_jieba():
    """Import jieba quietly (no SyntaxWarning noise, no debug log) and quickly.

    jieba imports ``pkg_resources`` (0.2 s) only to find its own data files, and falls back to a
    plain ``open`` beside its module when that import fails: the import is made to fail.
    """
    blocked = "pkg_resources" not in sys.modules
    if blocked:
        sys.modules["pkg_resources"] = None  # `import pkg_resources` raises ImportError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import jieba  # noqa: PLC0415
    finally:
        if blocked and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    if jieba.marshal is marshal:
        jieba.marshal = _WholeFileMarshal
    logging.getLogger("jieba").setLevel(logging.WARNING)
    return jieba


def _build_table(t2s: dict[str, str]) -> dict[int, object]:
    table: dict[int, object] = {}
    for cp in range(0x20):
        table[cp] = " " if cp in (0x09, 0x0A, 0x0D) else None
    table[0x7F] = None
    for cp in range(0xD800, 0xE000):  # lone surrogates
        table[cp] = None
    for cp in (0x200B, 0x200C, 0x200D, 0xFEFF, 0xFE0F):  # zero-width, variation selector
        table[cp] = None
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[cp] = chr(cp - 0xFEE0)
    table[0x3000] = " "
    table[0x2005] = " "
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    for cp in range(0xFF21, 0xFF3B):  # full-width capitals → lower case
        table[cp] = chr(cp - 0xFEE0 + 32)
    for trad, simp in t2s.items():
        table[ord(trad)] = simp
    return table


@dataclass(frozen=True)
class Prepared:
    text: str                 # normalised text
    tokens: list[str]         # jieba tokens of the normalised text (HMM off)
    card: bool = False        # the message was an XML app card (shared link etc.)
    emoticons: tuple[str, ...] = ()  # WeChat codes such as "[微笑]" (removed from text)


class Tokenizer:
    """Owns one private ``jieba.Tokenizer``; build once, reuse for every message."""

    def __init__(self, lexicon: Lexicon, extra_words: Iterable[str] = (),
                 max_chars: int = MAX_CHARS) -> None:
        jieba = _import_jieba()
        self.max_chars = max_chars
        self._table = _build_table(lexicon.t2s)
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = os.environ.get("GRIDBOT_JIEBA_CACHE_DIR") or tempfile.gettempdir()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._jieba.initialize()
        for word, freq, tag in lexicon.userdict:
            self.add_word(word, freq, tag)
        for word in sorted(lexicon.all_words()):
            self.add_word(word)
        for word in extra_words:
            self.add_word(word)

    def add_word(self, word: str, freq: int | None = None, tag: str | None = None) -> None:
        """Add a word so jieba keeps it whole (lexicon entries, community names)."""
        word = self.normalize_basic(str(word)).strip()
        if not word or any(ch.isspace() for ch in word):
            return
        if len(word) == 1:
            return  # single characters are tokens anyway
        if freq is None:
            known = self._jieba.FREQ.get(word, 0)
            if known:
                freq = known
            else:
                freq = max(self._jieba.suggest_freq(word, tune=False), 200)
        self._jieba.add_word(word, freq, tag)

    def normalize_basic(self, text: str) -> str:
        """Character-level normalisation only (also applied to lexicon entries)."""
        return text.translate(self._table)

    def normalize(self, text: str) -> tuple[str, bool]:
        """Full normalisation; returns (text, was_xml_card)."""
        norm, card, _ = self._normalize(text)
        return norm, card

    def _normalize(self, text: str) -> tuple[str, bool, tuple[str, ...]]:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        # cap early, with slack for markup that will be stripped
        if len(text) > self.max_chars * 3:
            text = text[: self.max_chars * 3]
        card = False
        if "<" in text and ">" in text:
            head = text.lstrip()[:64].lower()
            if head.startswith(("<?xml", "<msg", "<appmsg")):
                card = True
                fields = _CARD_FIELDS_RE.findall(text.replace("<![CDATA[", "").replace("]]>", ""))
                text = " ".join(value for _, value in fields)
            text = _TAG_RE.sub(" ", text)
        text = text.translate(self._table)
        if "http" in text or "www." in text:
            text = _URL_RE.sub(" ", text)
        if "@" in text:
            text = _MENTION_RE.sub(" ", text)
        emoticons: tuple[str, ...] = ()
        if "[" in text:
            emoticons = tuple(_EMOTICON_RE.findall(text)[:20])
            if emoticons:
                text = _EMOTICON_RE.sub(" ", text)
        if len(text) > self.max_chars:
            text = text[: self.max_chars]
        if "  " in text:
            text = _SPACES_RE.sub(" ", text)
        return text.strip(), card, emoticons

    def cut(self, text: str) -> list[str]:
        """Tokens of already-normalised text (HMM off: dictionary words only)."""
        return [tok for tok in self._jieba.cut(text, HMM=False) if tok != " "]

    def prepare(self, text: str) -> Prepared:
        norm, card, emoticons = self._normalize(text)
        return Prepared(norm, self.cut(norm) if norm else [], card, emoticons)
