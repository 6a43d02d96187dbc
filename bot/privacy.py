"""Mask personal numbers in what the bot says in groups (staff alerts and tickets keep them in full)."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![\dXx])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dXx])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")
# A flat number after a building/unit ("2单元502", "5栋1203", "302室", "1-302").
_DOOR = re.compile(
    r"((?:号楼|栋|幢|单元|座)\s*)(\d{3,4})(?=\s*(?:室|号|户)?)"
    r"|(?<![\d-])(\d{3,4})(?=\s*(?:室|号房))"
    r"|(?<!\d)(\d{1,2}-)(\d{3,4})(?!\d)"
)


def _door(match: re.Match) -> str:
    if match.group(2):
        return match.group(1) + "***"
    if match.group(3):
        return "***"
    return match.group(4) + "***"


def mask(text: str) -> str:
    """138****5678, 110101********1234, 2单元***, ***室."""
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _DOOR.sub(_door, text)
