"""The small frozen values the core sees instead of chat-library objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

# "join" is a system event: talker joined the room (greeted, never a ticket).
MessageKind = Literal["text", "image", "file", "url", "recalled", "join", "other"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class IncomingMessage:
    """One message somebody (never the bot itself) sent in a group or privately."""

    message_id: str
    talker_id: str
    talker_name: str
    text: str = ""
    kind: MessageKind = "text"
    room_id: str | None = None
    room_topic: str | None = None
    talker_alias: str | None = None  # the name the person uses inside this group
    mentions_me: bool = False
    mention_ids: tuple[str, ...] = ()
    time: datetime = field(default_factory=utcnow)
    # For kind == "recalled": the id of the message that was taken back.
    recalled_id: str | None = None
    # For kind == "image"/"file": where the transport stored the bytes.
    attachment_path: str | None = None

    @property
    def is_group(self) -> bool:
        return self.room_id is not None

    @property
    def display_name(self) -> str:
        return self.talker_alias or self.talker_name


@dataclass(frozen=True)
class Outgoing:
    """One message the bot owes somebody; room_topic or to_id says where it goes."""

    text: str
    room_topic: str | None = None
    room_id: str | None = None
    to_id: str | None = None  # a direct message to this person id
    mention_ids: tuple[str, ...] = ()
    mention_names: tuple[str, ...] = ()
