"""Explainable keyword classifier for community group messages (DESIGN.md §1).

One jieba tokenization (HMM off) per message, then dictionary lookups of every
token and of each run of two or three adjacent tokens against the lexicon
(bot/nlp/lexicon/). Scores are sums of the weights of the distinct entries
found; the entries that decided the result are returned as ``hits``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from .labels import CATEGORIES, INTENTS, URGENCIES
from .lexicon import Lexicon, load_lexicon
from .tokenizer import Tokenizer

log = logging.getLogger(__name__)

#: minimum score of the best actionable intent
ACTIONABLE_MIN = 1.5
#: complaint evidence this strong wins over asks and reports (blame is what staff must answer)
COMPLAINT_MIN = 2.5
COMPLAINT_SHARE = 0.6
#: ... but a question needs this share of complaint evidence to count as a hidden complaint
COMPLAINT_VS_INQUIRY = 1.0
#: question cues alone (no inquiry keyword, no topic) stay below ACTIONABLE_MIN
QUESTION_ALONE_MAX = 1.0
#: a question about a known topic ("社区医院周末有医生吗") is an inquiry
QUESTION_WITH_TOPIC = 1.0
#: an explicit inquiry word (请问, 咨询, 想问 …) opening the message
INQUIRY_OPENING = 4
INQUIRY_OPENING_BONUS = 1.5
#: with a clear question and no explicit ask, a problem statement counts less
INQUIRY_STRONG = 2.5
REPORT_UNDER_QUESTION = 0.5
#: long messages (petitions): chit-chat cues after the opening count less,
#: and any topic plus a little intent evidence is enough
LONG_TEXT = 60
LONG_OPENING = 20
LONG_OTHER_FACTOR = 0.3
LONG_ACTIONABLE_MIN = 1.0
#: thanks at the very start ("谢谢大家帮忙") count more
THANKS_AT_START = 2.0
THANKS_WINDOW = 4
#: urgency thresholds
EMERGENCY_MIN = 3.0
URGENT_MIN = 2.0
#: share of an urgency keyword's weight that also counts as a report (request)
URGENCY_TO_REQUEST = 0.5
#: notice cues count only when they start within this many characters
NOTICE_WINDOW = 6
#: negation silences intent and urgency entries starting in the next N tokens
NEGATION_SPAN = 2

#: ties are broken in this order
INTENT_ORDER = ("complaint", "request", "inquiry")
CATEGORY_ORDER = ("safety", "health", "welfare", "dispute", "repair", "property",
                  "environment", "order", "policy", "other")

OTHER_CUES = ("thanks", "notice", "ad")


@dataclass(frozen=True)
class Hit:
    word: str      # the lexicon entry that matched, e.g. "电梯" (combinations as "电梯+困")
    role: str      # "intent:request", "category:repair", "urgency:emergency", "cue:ask", ...
    weight: float


@dataclass(frozen=True)
class Classification:
    intent: str
    category: str
    urgency: str
    hits: tuple[Hit, ...] = ()  # the evidence that decided it, strongest first

    @property
    def actionable(self) -> bool:
        return self.intent != "other"

    @property
    def keywords(self) -> list[str]:
        """Distinct decisive words, strongest first (for 「命中：…」); bare punctuation cues left out."""
        seen: dict[str, None] = {}
        for hit in self.hits:
            if any(ch.isalnum() for ch in hit.word):
                seen.setdefault(hit.word, None)
        return list(seen)

    def as_dict(self) -> dict:
        return {"intent": self.intent, "category": self.category,
                "urgency": self.urgency, "keywords": self.keywords}


OTHER = Classification("other", "none", "normal", ())


@dataclass(frozen=True)
class _Rule:
    kind: str                 # "intent" | "category" | "urgency" | "cue"
    label: str
    weight: float
    parts: tuple[str, ...]    # substrings that must also occur (combinations)

    @property
    def role(self) -> str:
        return f"{self.kind}:{self.label}"


class Classifier:
    """Load once (lexicon + private jieba tokenizer); ``classify`` is pure and never raises."""

    def __init__(self, extra_words: Iterable[str] = (), lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or load_lexicon()
        self.tokenizer = Tokenizer(self.lexicon, extra_words)
        norm = self.tokenizer.normalize_basic
        self._rules: dict[str, list[_Rule]] = {}
        tables = (("intent", self.lexicon.intent), ("category", self.lexicon.category),
                  ("urgency", self.lexicon.urgency), ("cue", self.lexicon.cues))
        for kind, table in tables:
            for label, entries in table.items():
                for e in entries:
                    rule = _Rule(kind, label, e.weight, tuple(norm(p) for p in e.parts))
                    self._rules.setdefault(norm(e.word), []).append(rule)
        self._typos = {norm(k): norm(v) for k, v in self.lexicon.typos.items()}
        # words that may also match inside a longer jieba token (not cues: 「出租车」 is no ad)
        self._sub_ok = frozenset(
            word for word, rs in self._rules.items() if len(word) >= 2 and any(
                r.kind in ("category", "urgency")
                or (r.kind == "intent" and r.label in ("ask", "report", "complaint"))
                for r in rs))
        self._family = {word: frozenset("intent" if r.kind == "cue" else r.kind for r in rs)
                        for word, rs in self._rules.items()}
        self._negations = frozenset(
            word for word, rs in self._rules.items()
            if any(r.kind == "cue" and r.label == "negation" for r in rs))
        # one lookup: surface form (lexicon word or known typo) → lexicon word
        self._lookup = {word: word for word in self._rules}
        self._lookup.update((typo, right) for typo, right in self._typos.items() if right in self._rules)
        keys = list(self._rules) + list(self._typos)
        self._max_len = max((len(k) for k in keys), default=1)

    def add_words(self, words: Iterable[str]) -> None:
        """Add community words (place, group and staff names) to the tokenizer."""
        for word in words:
            self.tokenizer.add_word(word)

    def classify(self, text: str) -> Classification:
        try:
            return self._classify(text)
        except Exception:  # never raise into the dispatcher
            log.exception("classifier failed; treating the message as other")
            return OTHER

    # -- internals ---------------------------------------------------------

    def _match(self, tokens: list[str]) -> list[tuple[str, int, int]]:
        """Distinct lexicon words found, in text order: (word, token index, char offset).

        Every token and every run of two or three adjacent tokens is looked up, so
        phrases that jieba splits still match. A match inside a longer match of the
        same family (intent/cue, category, urgency) is dropped: 「投诉电话」 is not 「投诉」,
        but 「有补贴」 (inquiry) keeps 「补贴」 (category).
        """
        lookup, max_len, sub_ok = self._lookup, self._max_len, self._sub_ok
        n = len(tokens)
        spans: list[tuple[str, int, int, int]] = []  # word, first token, end token, char offset
        multi = False
        offset = 0
        for i in range(n):
            tok = tokens[i]
            word = lookup.get(tok)
            if word is not None:
                spans.append((word, i, i + 1, offset))
            elif len(tok) >= 3 and tok[0] >= "\u4e00":
                # jieba kept a longer word ("灯不亮"): look for lexicon words inside it
                for a in range(len(tok) - 1):
                    for b in range(a + 2, min(len(tok), a + max_len) + (1 if a else 0)):
                        sub = tok[a:b]
                        if sub in sub_ok:
                            spans.append((sub, i, i + 1, offset + a))
            if i + 1 < n:
                cand = tok + tokens[i + 1]
                if len(cand) <= max_len:
                    word = lookup.get(cand)
                    if word is not None:
                        spans.append((word, i, i + 2, offset))
                        multi = True
                    if i + 2 < n:
                        cand += tokens[i + 2]
                        if len(cand) <= max_len:
                            word = lookup.get(cand)
                            if word is not None:
                                spans.append((word, i, i + 3, offset))
                                multi = True
            offset += len(tok)
        family = self._family
        if multi:
            by_start: dict[int, list[tuple[str, int, int, int]]] = {}
            for sp in spans:
                by_start.setdefault(sp[1], []).append(sp)
            kept = []
            for sp in spans:
                word, i, j, _ = sp
                fam = family[word]
                covered = False
                for k in range(max(0, i - 2), i + 1):
                    for other in by_start.get(k, ()):
                        if (other[2] >= j and other[2] - other[1] > j - i
                                and fam <= family[other[0]]):
                            covered = True
                            break
                    if covered:
                        break
                if not covered:
                    kept.append(sp)
            spans = kept
        found: dict[str, tuple[str, int, int]] = {}
        for word, i, _, off in spans:
            if word not in found:
                found[word] = (word, i, off)
        return list(found.values())

    def _classify(self, text: str) -> Classification:
        prep = self.tokenizer.prepare(text)
        if not prep.tokens and not prep.emoticons:
            if prep.card:
                return Classification("other", "none", "normal", (Hit("[card]", "cue:card", 3.0),))
            return OTHER
        norm_text = prep.text
        matches = self._match(prep.tokens)
        for code in prep.emoticons:
            if not prep.tokens and any(r.label == "frustration" for r in self._rules.get(code, ())):
                continue  # "[微笑][微笑]" alone is a reaction, not a complaint
            if code in self._rules and all(code != m[0] for m in matches):
                matches.append((code, -10, 10**6))

        negated: set[int] = set()
        for word, idx, _ in matches:
            if word in self._negations:
                negated.update(range(idx + 1, idx + 1 + NEGATION_SPAN))

        ev = _Evidence()
        long_text = len(norm_text) >= LONG_TEXT
        notice_ok = norm_text.startswith("【") and "】" in norm_text[:40]
        for word, idx, start in matches:
            is_negated = idx in negated
            for rule in self._rules[word]:
                if rule.parts and not all(p in norm_text for p in rule.parts):
                    continue
                label = word if not rule.parts else "+".join((word, *rule.parts))
                kind, cls, weight = rule.kind, rule.label, rule.weight
                if long_text and start >= LONG_OPENING and (
                        (kind == "intent" and cls == "other") or cls in OTHER_CUES or cls == "announce"):
                    weight *= LONG_OTHER_FACTOR  # politeness inside a long petition
                if kind == "category":
                    ev.add_category(cls, Hit(label, rule.role, weight))
                elif kind == "urgency":
                    if not is_negated:
                        ev.add_urgency(cls, Hit(label, rule.role, weight))
                elif kind == "intent":
                    if cls == "other":
                        ev.add_other(Hit(label, "intent:other", weight))
                    elif not is_negated:
                        ev.add_intent(cls, Hit(label, f"intent:{INTENT_OF.get(cls, cls)}", weight))
                        if cls == "inquiry" and start < INQUIRY_OPENING and weight >= 2.5:
                            ev.inquiry_opening = True
                elif cls in CUE_TO_SECTION:
                    if not is_negated:
                        ev.add_intent(CUE_TO_SECTION[cls], Hit(label, rule.role, weight))
                elif cls == "negation":
                    ev.negations.append(Hit(label, rule.role, weight))
                elif cls == "announce":
                    ev.add_other(Hit(label, "cue:notice", weight))
                elif cls == "notice":
                    if (notice_ok if word == "【" else (start < NOTICE_WINDOW or notice_ok)):
                        ev.add_other(Hit(label, rule.role, weight))
                elif cls == "thanks":
                    boost = THANKS_AT_START if start < THANKS_WINDOW else 1.0
                    ev.add_other(Hit(label, rule.role, weight * boost))
                elif cls in OTHER_CUES:
                    ev.add_other(Hit(label, rule.role, weight))
        if prep.card:
            ev.add_other(Hit("[card]", "cue:card", 3.0))
        return self._decide(ev, long_text)

    def _decide(self, ev: "_Evidence", long_text: bool = False) -> Classification:
        s = ev.score
        cat_total = sum(ev.cat_score.values())
        urg_total = ev.urg_score["emergency"] + ev.urg_score["urgent"]
        # reports: problem statements plus a share of urgency evidence
        report = s["report"] + URGENCY_TO_REQUEST * urg_total
        ask = s["ask"]
        inquiry = s["inquiry"] + s["question"]
        if s["question"] > 0 and cat_total > 0 and not long_text:
            inquiry += QUESTION_WITH_TOPIC
        if ev.inquiry_opening:
            inquiry += INQUIRY_OPENING_BONUS  # 「请问…」「咨询…」 as the first words
        if s["inquiry"] == 0 and cat_total == 0:
            inquiry = min(inquiry, QUESTION_ALONE_MAX)  # "吃了吗" is chit-chat
        if inquiry >= INQUIRY_STRONG and ask == 0:
            report *= REPORT_UNDER_QUESTION  # "停水到几点？" asks for information
        request = ask + report
        complaint = s["complaint"] + s["frustration"]
        scores = {"request": request, "complaint": complaint, "inquiry": inquiry}

        if (complaint >= COMPLAINT_MIN and complaint >= COMPLAINT_SHARE * request
                and complaint >= COMPLAINT_VS_INQUIRY * inquiry):
            intent = "complaint"  # blame wins over the ask it comes with
        else:
            intent = max(INTENT_ORDER, key=lambda k: scores[k])  # first wins ties
        if intent == "inquiry" and ev.urg_score["emergency"] >= EMERGENCY_MIN:
            intent = "request"  # 「有谁看到了吗」 about a missing child is a call for help
        top = scores[intent]
        minimum = LONG_ACTIONABLE_MIN if long_text and cat_total > 0 else ACTIONABLE_MIN
        if top < minimum or ev.other_score > top:
            hits = ev.other_hits + (ev.negations if ev.negations else [])
            return Classification("other", "none", "normal", _sorted(hits))

        hits = list(ev.intent_hits(intent))
        if ev.cat_score:
            category = max(CATEGORY_ORDER, key=lambda k: ev.cat_score.get(k, 0.0))
            if category not in ev.cat_hits:  # only unknown sections scored
                category = "other"
            hits += ev.cat_hits[category]
        else:
            category = "other"
        urgency = "normal"
        if intent != "inquiry":
            if ev.urg_score["emergency"] >= EMERGENCY_MIN:
                urgency = "emergency"
                hits += ev.urg_hits["emergency"]
            elif urg_total >= URGENT_MIN:
                urgency = "urgent"
                hits += ev.urg_hits["urgent"] + ev.urg_hits["emergency"]
        return Classification(intent, category, urgency, _sorted(hits))


#: intent-file sections and cue lists → the intent they vote for
INTENT_OF = {"ask": "request", "report": "request", "complaint": "complaint", "inquiry": "inquiry"}
CUE_TO_SECTION = {"ask": "ask", "frustration": "frustration", "question": "question"}
SECTION_INTENT = {"ask": "request", "report": "request", "complaint": "complaint",
                  "frustration": "complaint", "inquiry": "inquiry", "question": "inquiry"}


class _Evidence:
    """Scores and hits collected for one message."""

    __slots__ = ("score", "hits", "other_score", "other_hits", "cat_score", "cat_hits",
                 "urg_score", "urg_hits", "negations", "inquiry_opening")

    def __init__(self) -> None:
        self.score = dict.fromkeys(SECTION_INTENT, 0.0)
        self.hits: dict[str, list[Hit]] = {k: [] for k in SECTION_INTENT}
        self.other_score = 0.0
        self.other_hits: list[Hit] = []
        self.cat_score: dict[str, float] = {}
        self.cat_hits: dict[str, list[Hit]] = {}
        self.urg_score = {"emergency": 0.0, "urgent": 0.0}
        self.urg_hits: dict[str, list[Hit]] = {"emergency": [], "urgent": []}
        self.negations: list[Hit] = []
        self.inquiry_opening = False

    def add_intent(self, section: str, hit: Hit) -> None:
        self.score[section] += hit.weight
        self.hits[section].append(hit)

    def add_other(self, hit: Hit) -> None:
        self.other_score += hit.weight
        self.other_hits.append(hit)

    def add_category(self, label: str, hit: Hit) -> None:
        self.cat_score[label] = self.cat_score.get(label, 0.0) + hit.weight
        self.cat_hits.setdefault(label, []).append(hit)

    def add_urgency(self, label: str, hit: Hit) -> None:
        self.urg_score[label] += hit.weight
        self.urg_hits[label].append(hit)

    def intent_hits(self, intent: str) -> list[Hit]:
        out = []
        for section, target in SECTION_INTENT.items():
            if target == intent:
                out += self.hits[section]
        if intent == "request":
            out += self.urg_hits["emergency"] + self.urg_hits["urgent"]
        return out


def _sorted(hits: list[Hit]) -> tuple[Hit, ...]:
    seen: set[tuple[str, str]] = set()
    out = []
    for h in sorted(hits, key=lambda h: -h.weight):
        key = (h.word, h.role)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return tuple(out)


assert set(INTENT_ORDER) | {"other"} == set(INTENTS)
assert set(CATEGORY_ORDER) <= set(CATEGORIES) and set(URGENCIES) >= {"emergency", "urgent", "normal"}
