"""What can go wrong when alerting staff through a robot webhook."""

from __future__ import annotations


class WebhookError(Exception):
    """Base class. Messages name the robot, never its key, token or secret."""

    retryable = False

    def __init__(self, message: str, *, target: str = "", code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.target = target  # the robot's configured name
        self.code = code  # the platform's errcode / code, when it sent one
        self.status = status  # the HTTP status, when there was a response


class WebhookUnavailable(WebhookError):
    """The platform could not take the message now (5xx, 429, timeout, network): try again later."""

    retryable = True


class WebhookThrottled(WebhookUnavailable):
    """The robot's rate limit was hit (about 20 a minute): try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 60.0, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class WebhookRejected(WebhookError):
    """The platform refused this message for good (bad key, token, signature or body): do not retry."""
