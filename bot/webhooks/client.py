"""Sends staff alerts to WeCom, DingTalk and Feishu group robots over one aiohttp session."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable, Sequence

import aiohttp
from yarl import URL

from bot.webhooks.errors import WebhookError, WebhookRejected, WebhookThrottled, WebhookUnavailable
from bot.webhooks.platforms import build_request, check_reply, compose, mask_url
from bot.webhooks.settings import WebhookSettings

log = logging.getLogger(__name__)


class WebhookClient:
    """One HTTP session for every robot; start() before sending, close() when done (or `async with`)."""

    def __init__(self, *, timeout: float = 10.0, clock: Callable[[], float] = time.time):
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock  # Unix time for signatures
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "WebhookClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def send(self, target: WebhookSettings, text: str, *, title: str = "",
                   mentions: Sequence[str] = ()) -> None:
        """Deliver one alert; raise WebhookThrottled / WebhookUnavailable (retry) or WebhookRejected (don't)."""
        if self._session is None:
            raise RuntimeError("WebhookClient.start() was not called")
        request = build_request(target, compose(text, title), mentions, self.clock())
        where = f"{target.kind} robot {target.name!r} ({mask_url(target.url)})"
        data = json.dumps(request.body, ensure_ascii=False).encode()
        try:
            async with self._session.post(URL(request.url, encoded=True), data=data,
                                          headers={"Content-Type": "application/json; charset=utf-8"}) as resp:
                raw = await resp.read()
                status, retry_after = resp.status, _seconds(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # `from None`: aiohttp's own messages may quote the full, unmasked URL.
            raise WebhookUnavailable(f"{where}: {type(exc).__name__}", target=target.name) from None
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        check_reply(target, status, reply, retry_after)
        log.debug("alert delivered to %s", where)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def send_with_retries(client: WebhookClient, target: WebhookSettings, text: str, *, title: str = "",
                            mentions: Sequence[str] = (), attempts: int = 5, base_delay: float = 1.0,
                            sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Send, retrying throttled or unavailable robots with exponential backoff; raise the last error on giving up.

    Waits base_delay, 2×, 4×, … between attempts, or the platform's retry_after when throttled if longer.
    A rejected message (bad key, signature or body) is not retried.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            await client.send(target, text, title=title, mentions=mentions)
            return
        except WebhookRejected as exc:
            log.error("staff alert not delivered, check the robot's settings: %s", exc)
            raise
        except WebhookError as exc:
            if attempt == attempts:
                log.error("staff alert not delivered after %s attempts: %s", attempts, exc)
                raise
            delay = base_delay * 2 ** (attempt - 1)
            if isinstance(exc, WebhookThrottled):
                delay = max(delay, exc.retry_after)
            log.warning("staff alert attempt %s/%s failed (%s); retrying in %.0f s", attempt, attempts, exc, delay)
            await sleep(delay)
