"""The small interface every transport implements."""

from __future__ import annotations

import abc
from typing import Awaitable, Callable

from bot.events import IncomingMessage, Outgoing

EventHandler = Callable[[IncomingMessage], Awaitable[None]]


class TransportUnavailable(Exception):
    """The chat connection is down; the outbox keeps the message and tries again later."""


class Transport(abc.ABC):
    name: str = "transport"

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while messages can be sent."""

    @abc.abstractmethod
    async def start(self, on_event: EventHandler) -> None:
        """Connect and deliver every incoming message to on_event."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect; idempotent."""

    @abc.abstractmethod
    async def send(self, message: Outgoing) -> None:
        """Deliver one message or raise (TransportUnavailable when disconnected)."""
