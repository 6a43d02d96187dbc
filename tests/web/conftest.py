"""Console fixtures: a started bot (fake transport), the web app with the console, logged-in clients."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.app import GridBot
from bot.events import utcnow
from bot.services import accounts
from bot.web.app import create_web_app
from bot.web.keys import ConsoleDeps
from bot.web.security import LoginLimiter
from storage.models import StaffCredential, Ticket
from tests.conftest import RESIDENT_GROUP, FakeTransport, make_settings, resident_message

# One more worker who is only in a team (no grid), to show team visibility.
TEAM_TOML = """
[[staff]]
name = "王工"
role = "grid_worker"

[[teams]]
name = "物业维修组"
members = ["王工"]
categories = ["property"]
"""

PASSWORDS = {"张敏": "zhangmin-secret-1", "李强": "liqiang-secret-2", "赵书记": "zhao-secret-3",
             "王工": "wanggong-secret-4"}
CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, TEAM_TOML, storage={"data_dir": tmp_path / "data"})


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """argon2id is slow on purpose: hash each test password once per run."""
    return {name: accounts.hash_password(password) for name, password in PASSWORDS.items()}


@pytest.fixture
async def web_bot(settings, classifier, reset_database, password_hashes):
    bot = GridBot(settings, transport=FakeTransport(), classifier=classifier)
    await bot.start(web_server=False)
    async with bot.sessions.begin() as session:
        for name, password_hash in password_hashes.items():
            person = await accounts.staff_member(session, settings, name)
            session.add(StaffCredential(person_id=person.id, password_hash=password_hash, updated_at=utcnow()))
    yield bot
    await bot.stop()


@pytest.fixture
def console_deps(web_bot, settings) -> ConsoleDeps:
    return ConsoleDeps(settings=settings, sessions=web_bot.sessions, secret_key=b"k" * 32, wake=web_bot.sender.wake,
                       clock=web_bot.clock, limiter=LoginLimiter(), connected=lambda: web_bot.transport.connected,
                       metrics_lag_seconds=0)


@pytest.fixture
async def make_client(aiohttp_client, web_bot, console_deps, settings):
    async def _make():
        app = create_web_app(community=settings.community.name, health=web_bot.health, sandbox_transport=None,
                             console=console_deps)
        return await aiohttp_client(app)

    return _make


@pytest.fixture
async def client(make_client):
    return await make_client()


async def csrf_of(client, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF_RE.search(await response.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client, name: str, password: str | None = None, *, expect: int = 302):
    token = await csrf_of(client)
    response = await client.post("/login", data={"name": name, "password": password or PASSWORDS[name],
                                                 "_csrf": token, "next": "/tickets"}, allow_redirects=False)
    assert response.status == expect, await response.text()
    return response


@pytest.fixture
async def as_zhang(client):
    await login(client, "张敏")
    return client


async def report(bot: GridBot, text: str, *, name: str = "王阿姨", group: str = RESIDENT_GROUP) -> int:
    """A resident says something in a group; returns the newest ticket number."""
    await bot.dispatcher.feed(resident_message(text, name=name, group=group))
    async with bot.sessions() as session:
        return int(await session.scalar(select(func.max(Ticket.id))) or 0)


async def post_form(client, path: str, data: dict, *, csrf_from: str | None = None):
    token = await csrf_of(client, csrf_from or path.rsplit("/", 1)[0])
    return await client.post(path, data={**data, "_csrf": token}, allow_redirects=False)
