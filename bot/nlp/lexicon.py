"""Load the lexicon files under bot/nlp/lexicon/ (plain text, stdlib only).

Section files (intent.txt, category.txt, urgency.txt, cues.txt)::

    # comment
    [section]
    word weight          # weight defaults to 1
    word+part weight     # a combination: `word` as a token and `part` anywhere in the text

Other files: userdict.txt (jieba user dictionary), t2s.txt (traditional→simplified
character pairs), typos.txt ("typo correct" pairs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LEXICON_DIR = Path(__file__).with_name("lexicon")


@dataclass(frozen=True)
class Entry:
    word: str
    weight: float
    parts: tuple[str, ...] = ()  # extra substrings required (combinations)


@dataclass
class Lexicon:
    intent: dict[str, list[Entry]] = field(default_factory=dict)
    category: dict[str, list[Entry]] = field(default_factory=dict)
    urgency: dict[str, list[Entry]] = field(default_factory=dict)
    cues: dict[str, list[Entry]] = field(default_factory=dict)
    userdict: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    t2s: dict[str, str] = field(default_factory=dict)
    typos: dict[str, str] = field(default_factory=dict)

    def all_words(self) -> set[str]:
        """Every surface form the classifier looks up (anchors of combinations included)."""
        words: set[str] = set(self.typos)
        for table in (self.intent, self.category, self.urgency, self.cues):
            for entries in table.values():
                words.update(e.word for e in entries)
        return words


def _lines(path: Path):
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
            if line:
                yield line


def parse_sections(path: Path) -> dict[str, list[Entry]]:
    """Parse a "[section]" + "word weight" file."""
    sections: dict[str, list[Entry]] = {}
    current: list[Entry] | None = None
    for line in _lines(path):
        if line.startswith("[") and line.endswith("]") and len(line) > 2:
            current = sections.setdefault(line[1:-1].strip(), [])
            continue
        if current is None:
            raise ValueError(f"{path.name}: entry {line!r} outside a [section]")
        fields = line.split()
        weight = float(fields[1]) if len(fields) > 1 else 1.0
        word, *parts = fields[0].split("+")
        current.append(Entry(word, weight, tuple(p for p in parts if p)))
    return sections


def parse_pairs(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in _lines(path):
        fields = line.split()
        if len(fields) >= 2:
            pairs[fields[0]] = fields[1]
    return pairs


def parse_t2s(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for line in _lines(path):
        for pair in line.split():
            if len(pair) == 2 and pair[0] != pair[1]:
                table[pair[0]] = pair[1]
    return table


def parse_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    out = []
    for line in _lines(path):
        fields = line.split()
        freq = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
        tag = fields[2] if len(fields) > 2 else None
        out.append((fields[0], freq, tag))
    return out


def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    return Lexicon(
        intent=parse_sections(directory / "intent.txt"),
        category=parse_sections(directory / "category.txt"),
        urgency=parse_sections(directory / "urgency.txt"),
        cues=parse_sections(directory / "cues.txt"),
        userdict=parse_userdict(directory / "userdict.txt"),
        t2s=parse_t2s(directory / "t2s.txt"),
        typos=parse_pairs(directory / "typos.txt"),
    )
