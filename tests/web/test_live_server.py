"""The real web server of a started GridBot: the console is on, the sandbox only when it may be."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import GridBot
from bot.transports.sandbox import SandboxTransport
from tests.conftest import FakeTransport, make_settings


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, allow_redirects=False) as response:
            return response.status, response.headers.get("Location", "")


@pytest.mark.parametrize("transport_kind, sandbox_enabled, sandbox_shown", [
    ("sandbox", True, True),
    ("sandbox", False, False),  # switched off in config
    ("other", True, False),  # e.g. wechaty: only a SandboxTransport has a sandbox page
])
async def test_sandbox_only_when_enabled_and_the_transport_is_the_sandbox(
        tmp_path, classifier, reset_database, transport_kind, sandbox_enabled, sandbox_shown):
    settings = make_settings(tmp_path, storage={"data_dir": tmp_path / "data"},
                             sandbox={"enabled": str(sandbox_enabled).lower()})
    transport = SandboxTransport(settings) if transport_kind == "sandbox" else FakeTransport()
    bot = GridBot(settings, transport=transport, classifier=classifier)
    await bot.start(web_server=True)
    try:
        status, _ = await _get(f"{bot.base_url}/sandbox")
        assert status == (200 if sandbox_shown else 404)
        assert (await _get(f"{bot.base_url}/healthz"))[0] == 200
        assert (await _get(f"{bot.base_url}/metrics"))[0] == 200
        status, location = await _get(f"{bot.base_url}/tickets")
        assert status == 302 and location.startswith("/login")
        key = tmp_path / "data" / "console.key"
        assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    finally:
        await bot.stop()
