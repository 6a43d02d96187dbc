"""Console security pieces: the session key, CSRF tokens, login rate limiting, response headers."""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Mapping

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_ENV = "GRIDBOT_WEB_SECRET_KEY"
KEY_FILE = "console.key"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# -- the session cookie key -------------------------------------------------------------------

def _decode_key(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == 32 else None


def load_secret_key(data_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> bytes:
    """32 bytes for the encrypted session cookie.

    GRIDBOT_WEB_SECRET_KEY wins (a urlsafe-base64 32-byte key, or any passphrase, which is hashed);
    otherwise <data_dir>/console.key, created on first start with mode 600 and kept, so sessions
    survive restarts and several processes on one data folder share it.
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(SECRET_ENV, "")
    if configured:
        return _decode_key(configured) or hashlib.sha256(configured.encode("utf-8")).digest()
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    if not path.exists():
        tmp = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        try:
            os.link(tmp, path)  # atomic: another process that got there first keeps its key
            log.info("created the console session key file %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = _decode_key(path.read_text(encoding="ascii"))
    if key is None:
        raise RuntimeError(f"{path} is not a valid console key; delete it to have a new one made")
    return key


# -- CSRF --------------------------------------------------------------------------------------

def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


# -- login rate limiting -----------------------------------------------------------------------

class LoginLimiter:
    """Failed logins per name and per client address within a sliding window.

    Per name stops guessing one account's password; per address stops trying many names.
    """

    def __init__(self, *, per_name: int = 5, per_address: int = 20, window_seconds: float = 900,
                 clock=time.monotonic):
        self.per_name = per_name
        self.per_address = per_address
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def _recent(self, key: str) -> collections.deque[float]:
        now = self.clock()
        times = self._failures[key]
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until another try is allowed (0 = allowed now)."""
        now = self.clock()
        wait = 0.0
        for key, limit in ((f"name:{name}", self.per_name), (f"addr:{address}", self.per_address)):
            times = self._recent(key)
            if len(times) >= limit:
                wait = max(wait, self.window - (now - times[-limit]))
        return wait

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        self._failures[f"name:{name}"].append(now)
        self._failures[f"addr:{address}"].append(now)
        if len(self._failures) > 10_000:  # bounded memory under a flood of made-up names
            for key in [k for k, v in self._failures.items() if not v or now - v[-1] >= self.window]:
                del self._failures[key]

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name}", None)


# -- response headers --------------------------------------------------------------------------

CONSOLE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _decorate(exc)
        raise
    _decorate(response)
    return response


def _decorate(response: web.StreamResponse) -> None:
    if response.prepared:  # WebSocket and streamed responses already sent their headers
        return
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
