"""Keeping incoming messages safe when the database is not: clean text, spot outages, spool to disk."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from sqlalchemy import exc as sa_exc

from bot.events import IncomingMessage

log = logging.getLogger(__name__)

_TEXT_FIELDS = ("text", "talker_name", "talker_alias", "room_topic", "message_id", "talker_id", "room_id",
                "recalled_id")


def clean(value: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def sanitize(message: IncomingMessage) -> IncomingMessage:
    changes = {}
    for name in _TEXT_FIELDS:
        value = getattr(message, name)
        if isinstance(value, str):
            cleaned = clean(value)
            if cleaned is not value:
                changes[name] = cleaned
    if message.mention_ids:
        changes["mention_ids"] = tuple(clean(m) for m in message.mention_ids)
    return dataclasses.replace(message, **changes) if changes else message


def is_database_down(error: BaseException) -> bool:
    """Connection trouble (retry later), as opposed to a bug or a bad row."""
    if isinstance(error, (ConnectionError, OSError, TimeoutError)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        text = str(error.orig).lower() if error.orig is not None else ""
        return isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) and (
            "connect" in text or "database is locked" in text or "unable to open" in text
            or "closed" in text or "terminat" in text or "refused" in text or "shutdown" in text)
    name = type(error).__name__
    return name in {"ConnectionDoesNotExistError", "CannotConnectNowError", "InterfaceError",
                    "ConnectionFailureError", "AdminShutdown", "PostgresConnectionError"}


class Spool:
    """An append-only JSON Lines file of messages not yet in the database (survives a crash)."""

    def __init__(self, path: Path):
        self.path = path

    def add(self, messages: list[IncomingMessage]) -> None:
        from storage.inbox import to_payload

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            for message in messages:
                handle.write(json.dumps(to_payload(message), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[IncomingMessage]:
        from storage.inbox import from_payload

        if not self.path.exists():
            return []
        out, seen = [], set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                message = from_payload(json.loads(line))
            except (ValueError, TypeError, KeyError):
                log.warning("skipping an unreadable line in %s", self.path)
                continue
            if message.message_id not in seen:
                seen.add(message.message_id)
                out.append(message)
        return out

    def clear(self) -> None:
        if self.path.exists():
            self.path.unlink()
