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
#: urgency thresholds
EMERGENCY_MIN = 3.0
URGENT_MIN = 2.0
#: share of an urgency keyword's weight that also counts as a report (request)
URGENCY_TO_REQUEST = 0.75
#: notice cues count only when they start within this many characters
NOTICE_WINDOW = 12
#: negation silences intent and urgency entries starting in the next N tokens
NEGATION_SPAN = 2

#: ties are broken in this order
INTENT_ORDER = ("complaint", "request", "inquiry")
CATEGORY_ORDER = ("safety", "dispute", "health", "welfare", "order",
                  "environment", "property", "repair", "policy")

CUE_TO_INTENT = {"ask": "request", "frustration": "complaint", "question": "inquiry"}
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
        """Distinct decisive words, strongest first (for 「命中：…」)."""
        seen: dict[str, None] = {}
        for hit in self.hits:
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
        """Distinct lexicon words found: (word, token index, char offset)."""
        rules, typos, max_len = self._rules, self._typos, self._max_len
        found: dict[str, tuple[str, int, int]] = {}
        n = len(tokens)
        offset = 0
        for i in range(n):
            cand = tokens[i]
            start = offset
            offset += len(cand)
            j = i
            while True:
                word = typos.get(cand, cand)
                if word in rules and word not in found:
                    found[word] = (word, i, start)
                j += 1
                if j >= n or j > i + 2:
                    break
                cand = cand + tokens[j]
                if len(cand) > max_len:
                    break
        return list(found.values())

    def _classify(self, text: str) -> Classification:
        tok = self.tokenizer
        prep = tok.prepare(text)
        if not prep.tokens:
            if prep.card:
                return Classification("other", "none", "normal", (Hit("[card]", "cue:card", 3.0),))
            return OTHER
        norm_text = prep.text
        matches = self._match(prep.tokens)

        negated: set[int] = set()
        for word, idx, _ in matches:
            if any(r.kind == "cue" and r.label == "negation" for r in self._rules[word]):
                negated.update(range(idx + 1, idx + 1 + NEGATION_SPAN))

        intent_score = {"request": 0.0, "complaint": 0.0, "inquiry": 0.0}
        intent_hits: dict[str, list[Hit]] = {k: [] for k in intent_score}
        other_score = 0.0
        other_hits: list[Hit] = []
        cat_score: dict[str, float] = {}
        cat_hits: dict[str, list[Hit]] = {}
        urg_score = {"emergency": 0.0, "urgent": 0.0}
        urg_hits: dict[str, list[Hit]] = {"emergency": [], "urgent": []}
        negation_hits: list[Hit] = []
        notice_ok = norm_text.startswith("【") and "】" in norm_text[:40]

        for word, idx, start in matches:
            is_negated = idx in negated
            for rule in self._rules[word]:
                if rule.parts and not all(p in norm_text for p in rule.parts):
                    continue
                label = word if not rule.parts else "+".join((word, *rule.parts))
                hit = Hit(label, rule.role, rule.weight)
                kind = rule.kind
                if kind == "category":
                    cat_score[rule.label] = cat_score.get(rule.label, 0.0) + rule.weight
                    cat_hits.setdefault(rule.label, []).append(hit)
                elif kind == "urgency":
                    if is_negated:
                        continue
                    urg_score[rule.label] += rule.weight
                    urg_hits[rule.label].append(hit)
                    intent_score["request"] += rule.weight * URGENCY_TO_REQUEST
                    intent_hits["request"].append(Hit(label, rule.role, rule.weight * URGENCY_TO_REQUEST))
                elif kind == "intent":
                    if rule.label == "other":
                        other_score += rule.weight
                        other_hits.append(hit)
                    elif not is_negated:
                        intent_score[rule.label] += rule.weight
                        intent_hits[rule.label].append(hit)
                else:  # cue
                    cue = rule.label
                    if cue in CUE_TO_INTENT:
                        if not is_negated:
                            target = CUE_TO_INTENT[cue]
                            intent_score[target] += rule.weight
                            intent_hits[target].append(hit)
                    elif cue == "negation":
                        negation_hits.append(hit)
                    elif cue == "notice":
                        if word == "【":
                            if notice_ok:
                                other_score += rule.weight
                                other_hits.append(hit)
                        elif start < NOTICE_WINDOW or notice_ok:
                            other_score += rule.weight
                            other_hits.append(hit)
                    elif cue in OTHER_CUES:
                        other_score += rule.weight
                        other_hits.append(hit)
        if prep.card:
            other_score += 3.0
            other_hits.append(Hit("[card]", "cue:card", 3.0))

        intent = max(INTENT_ORDER, key=lambda k: intent_score[k])  # first wins ties
        best = intent_score[intent]
        if best < ACTIONABLE_MIN or other_score >= best:
            hits = other_hits + (negation_hits if negation_hits and best > 0 else [])
            return Classification("other", "none", "normal", _sorted(hits))

        hits = list(intent_hits[intent])
        if cat_score:
            category = max(CATEGORY_ORDER, key=lambda k: cat_score.get(k, 0.0))
            hits += cat_hits[category]
        else:
            category = "other"
        if urg_score["emergency"] >= EMERGENCY_MIN:
            urgency = "emergency"
            hits += urg_hits["emergency"]
        elif urg_score["urgent"] + urg_score["emergency"] >= URGENT_MIN:
            urgency = "urgent"
            hits += urg_hits["urgent"] + urg_hits["emergency"]
        else:
            urgency = "normal"
        return Classification(intent, category, urgency, _sorted(hits))


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
