"""CSRF, escaping of residents' words, harmless search strings, login throttling, headers, no secrets in logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.web.security import LoginLimiter, load_secret_key
from storage.models import Ticket, TicketEvent
from tests.web.conftest import CSRF_RE, PASSWORDS, csrf_of, login, report

SCRIPT = '3号楼电梯坏了<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_form_without_csrf_token_is_rejected(client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "张敏")
    for data in ({}, {"_csrf": "forged"}, {"_csrf": ""}):
        response = await client.post(f"/tickets/{number}/resolve", data={**data, "text": "修好了"},
                                     allow_redirects=False)
        assert response.status == 403
        assert "CSRF" in await response.text()
    async with web_bot.sessions() as session:
        assert (await session.get(Ticket, number)).status == "open"
        kinds = (await session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == number))).all()
        assert "resolved" not in kinds
    # The same form with the page's token goes through.
    token = await csrf_of(client, f"/tickets/{number}")
    response = await client.post(f"/tickets/{number}/resolve", data={"_csrf": token, "text": "修好了"},
                                 allow_redirects=False)
    assert response.status == 302


async def test_csrf_token_of_another_session_is_rejected(make_client, web_bot):
    number = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    attacker, victim = await make_client(), await make_client()
    await login(attacker, "李强")
    await login(victim, "张敏")
    stolen = await csrf_of(attacker, "/tickets")
    response = await victim.post(f"/tickets/{number}/take", data={"_csrf": stolen}, allow_redirects=False)
    assert response.status == 403


async def test_login_form_needs_csrf_too(client):
    response = await client.post("/login", data={"name": "张敏", "password": PASSWORDS["张敏"]},
                                 allow_redirects=False)
    assert response.status == 403


async def test_script_in_a_residents_message_is_shown_as_text(client, web_bot):
    number = await report(web_bot, SCRIPT)
    await login(client, "张敏")
    for path in ("/tickets", f"/tickets/{number}", "/tickets?q=script"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
    # The resident's display name is escaped as well.
    await report(web_bot, "5号楼门口垃圾没人清理，太臭了", name="<b>坏人</b>")
    await login(client, "赵书记")
    html = await (await client.get("/tickets")).text()
    assert "<b>坏人</b>" not in html and "&lt;b&gt;坏人&lt;/b&gt;" in html
    # JSON carries the words unchanged (it is data, not HTML); CSV keeps them too.
    data = await (await client.get(f"/api/v1/tickets/{number}")).json()
    assert data["text"] == SCRIPT


@pytest.mark.parametrize("query", [
    "' OR 1=1 --", "\"; DROP TABLE tickets; --", "%", "_", "\\", "1; DELETE FROM tickets",
    "') UNION SELECT password_hash FROM staff_credentials --", "#1 OR 1=1", "电梯%' --",
])
async def test_sql_looking_search_strings_are_harmless(client, web_bot, query):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "小区路灯不亮了，晚上很黑", name="李大爷")
    await login(client, "赵书记")
    response = await client.get("/tickets", params={"q": query})
    assert response.status == 200
    html = await response.text()
    assert "没有符合条件的工单" in html  # nothing matches these literally
    assert "$argon2" not in html
    api = await (await client.get("/api/v1/tickets", params={"q": query})).json()
    assert api["total"] == 0
    async with web_bot.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 2  # the table is still there


async def test_search_finds_words_numbers_and_reporters(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await report(web_bot, "小区路灯不亮了，晚上很黑", name="李大爷")
    await login(client, "赵书记")

    async def ids(q):
        return [t["id"] for t in (await (await client.get("/api/v1/tickets", params={"q": q})).json())["tickets"]]

    assert await ids("电梯") == [1]
    assert await ids("#2") == [2]
    assert await ids("李大爷") == [2]
    assert await ids("100%") == []


async def test_unknown_filter_values_are_ignored(client, web_bot):
    await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await login(client, "赵书记")
    data = await (await client.get("/api/v1/tickets", params={"status": "open' --", "grid": "x", "page": "-5",
                                                              "per_page": "999999"})).json()
    assert data["total"] == 1 and sorted(data["ignored_filters"]) == ["grid", "status"]
    assert data["page"] == 1 and data["per_page"] == 200


async def test_login_attempts_are_rate_limited(client, console_deps):
    console_deps.limiter = LoginLimiter(per_name=3, per_address=10)
    for _ in range(3):
        await login(client, "张敏", "wrong-password", expect=401)
    # Even the right password waits now.
    response = await login(client, "张敏", expect=429)
    assert "尝试次数过多" in await response.text()
    # Another name from the same address still may try (until the address limit).
    await login(client, "李强", expect=302)


def test_limiter_window_and_address_limit():
    now = [0.0]
    limiter = LoginLimiter(per_name=2, per_address=3, window_seconds=60, clock=lambda: now[0])
    limiter.failed("a", "ip")
    limiter.failed("a", "ip")
    assert limiter.retry_after("a", "ip") == pytest.approx(60)
    assert limiter.retry_after("b", "ip") == 0
    limiter.failed("b", "ip")
    assert limiter.retry_after("c", "ip") > 0  # three failures from one address
    now[0] = 61
    assert limiter.retry_after("a", "ip") == 0 and limiter.retry_after("c", "ip") == 0


async def test_no_password_or_token_in_the_logs(client, web_bot, caplog):
    caplog.set_level(logging.DEBUG)
    await login(client, "张敏", "wrong-but-secret-guess", expect=401)
    await login(client, "张敏")
    text = caplog.text
    assert "wrong-but-secret-guess" not in text and PASSWORDS["张敏"] not in text
    assert "$argon2" not in text


async def test_unknown_name_and_wrong_password_look_the_same(client):
    unknown = await login(client, "不存在的人", "whatever-password", expect=401)
    wrong = await login(client, "张敏", "whatever-password", expect=401)
    assert "姓名或密码不对" in await unknown.text() and "姓名或密码不对" in await wrong.text()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
async def test_login_never_redirects_off_site(client, target):
    html = await (await client.get("/login", params={"next": target})).text()
    token = CSRF_RE.search(html).group(1)
    response = await client.post("/login", data={"name": "张敏", "password": PASSWORDS["张敏"], "_csrf": token,
                                                 "next": target}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/tickets"


async def test_session_cookie_is_encrypted_and_http_only(client):
    await login(client, "张敏")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["gridbot_session"]
    assert "uid" not in cookie.value and "张敏" not in cookie.value
    response = await client.get("/login")
    assert response.status in (200, 302)


async def test_security_headers(client):
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "HttpOnly" in response.headers.get("Set-Cookie", "") and "SameSite=Lax" in response.headers["Set-Cookie"]


def test_secret_key_file_is_private_and_stable(tmp_path):
    first = load_secret_key(tmp_path / "data", environ={})
    path = tmp_path / "data" / "console.key"
    assert len(first) == 32 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_secret_key(tmp_path / "data", environ={}) == first
    from_env = load_secret_key(tmp_path / "other", environ={"GRIDBOT_WEB_SECRET_KEY": "a passphrase"})
    assert len(from_env) == 32 and not (tmp_path / "other" / "console.key").exists()
