"""Batch classification for the `gridbot classify` command (JSON Lines out)."""

from __future__ import annotations

import json
from typing import Iterable, Iterator


def clean_text(text: str) -> str:
    """Make text safe to encode as UTF-8 (lone surrogates → U+FFFD, pairs joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def line_text(line: str) -> str:
    """The message in one input line: a JSON object's "text" field, or the line itself."""
    line = line.rstrip("\r\n")
    stripped = line.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            return line
        if isinstance(obj, dict) and "text" in obj:
            value = obj["text"]
            return value if isinstance(value, str) else ("" if value is None else str(value))
    return line


def classify_lines(classifier, lines: Iterable[str]) -> Iterator[dict]:
    """Yield {"text", "intent", "category", "urgency", "keywords"} per input line, in order."""
    for line in lines:
        text = clean_text(line_text(line))
        result = classifier.classify(text)
        yield {"text": text, **result.as_dict()}
