"""The Node wechaty gateway of tests/e2e/gateway (wechaty-puppet-service + a mock WeChat account),
started as a real process, and its HTTP control API: what the end-to-end tests and
`bench.gateway` both drive."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

GATEWAY_DIR = Path(__file__).resolve().parent.parent / "tests" / "e2e" / "gateway"


class GatewayError(AssertionError):
    """The gateway refused a control call, did not start, or the bot never attached.

    An AssertionError, so that a test reports it as a failure rather than an error."""


class Gateway:
    """A running gateway and its HTTP control API."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]):
        self.process = process
        self.puppet_port = info["puppet_port"]
        self.token = info["token"]
        self.control = f"http://127.0.0.1:{info['control_port']}"
        self.http = aiohttp.ClientSession()

    @classmethod
    async def start(cls) -> Gateway:
        """`node server.js` (needs `npm ci` in tests/e2e/gateway); returns once it listens."""
        if not (GATEWAY_DIR / "node_modules").is_dir():
            raise GatewayError(f"run `npm ci` in {GATEWAY_DIR} first (`make gateway-deps`)")
        process = await asyncio.create_subprocess_exec(
            "node", "server.js", "--exit-on-stdin-close", "--log-level", "warn",
            cwd=GATEWAY_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise GatewayError("the gateway did not start (run `npm ci` in tests/e2e/gateway)")
        return cls(process, json.loads(line))

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.puppet_port}"

    async def call(self, method: str, path: str, body: dict | None = None) -> Any:
        async with self.http.request(method, self.control + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                raise GatewayError(f"{method} {path} -> {response.status} {data}")
            return data

    async def wait_attached(self, timeout: float = 30, poll: float = 0.1) -> None:
        """Until a bot has logged in through the gateway and listens to its event stream."""
        deadline = time.monotonic() + timeout
        while True:
            health = await self.call("GET", "/health")
            if health.get("logged_in") and health.get("stream_attached"):
                return
            if time.monotonic() > deadline:
                raise GatewayError(f"the bot never attached: {health}")
            await asyncio.sleep(poll)

    async def close(self) -> None:
        await self.http.close()
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
