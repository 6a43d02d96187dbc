"""Staff alerts through WeCom, DingTalk and Feishu group robots (DESIGN §3 "Staff webhooks")."""

from bot.webhooks.client import WebhookClient, send_with_retries
from bot.webhooks.errors import WebhookError, WebhookRejected, WebhookThrottled, WebhookUnavailable
from bot.webhooks.settings import WebhookSettings

__all__ = [
    "WebhookClient",
    "WebhookError",
    "WebhookRejected",
    "WebhookSettings",
    "WebhookThrottled",
    "WebhookUnavailable",
    "send_with_retries",
]
