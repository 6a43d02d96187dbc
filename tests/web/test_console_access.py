"""Who may open what: anonymous visitors, grid workers, team members, supervisors, API tokens."""

from __future__ import annotations

import pytest

from bot.events import utcnow
from bot.services import accounts
from tests.conftest import RESIDENT_GROUP
from tests.web.conftest import login, report

FIVE = "西园5号楼业主群"  # grid g2 (李强); 3号楼 is g1 (张敏)

PAGES = ["/", "/tickets", "/tickets/1", "/dashboard", "/broadcasts", "/export", "/export.csv"]
MACHINE = ["/api/v1/tickets", "/api/v1/tickets/1", "/api/v1/stats", "/api/v1/me",
           "/open311/v2/services.json", "/open311/v2/requests.json", "/open311/v2/requests/1.xml"]


@pytest.fixture
async def tickets(web_bot):
    """#1 in g1 (张敏), #2 in g2 (李强), #3 a property complaint for the 物业维修组 team (王工)."""
    one = await report(web_bot, "3号楼2单元电梯坏了，麻烦尽快修一下", group=RESIDENT_GROUP)
    two = await report(web_bot, "5栋楼道灯坏了", name="李大爷", group=FIVE)
    three = await report(web_bot, "物业保安态度很差，门口也没人值班，物业费白交了", name="陈小姐", group=FIVE)
    return one, two, three


@pytest.mark.parametrize("path", PAGES)
async def test_anonymous_pages_redirect_to_login(client, tickets, path):
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login?next=")


async def test_anonymous_post_redirects_to_login_and_changes_nothing(client, tickets, web_bot):
    response = await client.post("/tickets/1/take", data={}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    async with web_bot.sessions() as session:
        from storage.models import Ticket

        assert (await session.get(Ticket, 1)).status == "open"


@pytest.mark.parametrize("path", MACHINE)
async def test_anonymous_api_gets_401_json(client, tickets, path):
    response = await client.get(path, allow_redirects=False)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "需要登录" in (await response.json())["error"]


async def test_public_routes_need_no_login(client):
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 200
    assert (await client.get("/login")).status == 200
    assert (await client.get("/static/console.css")).status == 200


async def test_login_lands_on_the_page_asked_for(client, tickets):
    first = await client.get("/dashboard", allow_redirects=False)
    assert first.headers["Location"] in ("/login?next=%2Fdashboard", "/login?next=/dashboard")
    page = await client.get(first.headers["Location"])
    html = await page.text()
    assert 'name="next" value="/dashboard"' in html
    from tests.web.conftest import CSRF_RE, PASSWORDS

    token = CSRF_RE.search(html).group(1)
    response = await client.post("/login", data={"name": "张敏", "password": PASSWORDS["张敏"], "_csrf": token,
                                                 "next": "/dashboard"}, allow_redirects=False)
    assert response.headers["Location"] == "/dashboard"
    assert (await client.get("/dashboard")).status == 200


async def test_grid_worker_sees_only_their_grids(client, tickets):
    await login(client, "张敏")
    html = await (await client.get("/tickets")).text()
    assert 'href="/tickets/1"' in html and 'href="/tickets/2"' not in html and 'href="/tickets/3"' not in html
    assert (await client.get("/tickets/1")).status == 200
    assert (await client.get("/tickets/2")).status == 404  # not 403: no probing for numbers
    assert (await client.get("/api/v1/tickets/2")).status == 404
    data = await (await client.get("/api/v1/tickets")).json()
    assert [t["id"] for t in data["tickets"]] == [1]


async def test_worker_cannot_act_on_a_ticket_of_another_grid(client, tickets, web_bot):
    await login(client, "李强")
    from tests.web.conftest import csrf_of

    token = await csrf_of(client, "/tickets")
    response = await client.post("/tickets/1/take", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 404
    async with web_bot.sessions() as session:
        from storage.models import Ticket

        assert (await session.get(Ticket, 1)).status == "open"


async def test_team_member_sees_their_teams_tickets(client, tickets, web_bot):
    async with web_bot.sessions() as session:
        from storage.models import Ticket

        assert (await session.get(Ticket, 3)).team == "物业维修组"
    await login(client, "王工")
    data = await (await client.get("/api/v1/tickets")).json()
    assert [t["id"] for t in data["tickets"]] == [3]
    assert (await client.get("/tickets/3")).status == 200
    assert (await client.get("/tickets/2")).status == 404


async def test_supervisor_sees_everything(client, tickets):
    await login(client, "赵书记")
    data = await (await client.get("/api/v1/tickets")).json()
    assert sorted(t["id"] for t in data["tickets"]) == [1, 2, 3]
    for number in (1, 2, 3):
        assert (await client.get(f"/tickets/{number}")).status == 200


async def test_api_token_has_its_owners_access(client, tickets, web_bot, settings):
    async with web_bot.sessions.begin() as session:
        person = await accounts.staff_member(session, settings, "李强")
        token = await accounts.issue_api_token(session, person, utcnow())
    headers = {"Authorization": f"Bearer {token}"}
    data = await (await client.get("/api/v1/tickets", headers=headers)).json()
    assert sorted(t["id"] for t in data["tickets"]) == [2, 3]  # 李强: grid g2 (both are in 5号楼)
    assert (await client.get("/api/v1/tickets/1", headers=headers)).status == 404
    requests = await (await client.get(f"/open311/v2/requests.json?api_key={token}")).json()
    assert sorted(r["service_request_id"] for r in requests) == ["2", "3"]
    # A token is not a console login, and a wrong token is nobody.
    assert (await client.get("/tickets", headers=headers, allow_redirects=False)).status == 302
    assert (await client.get("/api/v1/tickets", headers={"Authorization": "Bearer gbt_wrong"})).status == 401
    # A new token replaces the old one.
    async with web_bot.sessions.begin() as session:
        person = await accounts.staff_member(session, settings, "李强")
        await accounts.issue_api_token(session, person, utcnow())
    assert (await client.get("/api/v1/tickets", headers=headers)).status == 401


async def test_new_password_ends_older_sessions(client, tickets, web_bot, settings):
    await login(client, "张敏")
    assert (await client.get("/tickets", allow_redirects=False)).status == 200
    async with web_bot.sessions.begin() as session:
        person = await accounts.staff_member(session, settings, "张敏")
        await accounts.set_password(session, person, "a-brand-new-password", utcnow())
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


async def test_staff_removed_from_config_cannot_log_in(make_client, tickets, tmp_path, web_bot, console_deps):
    """王工 has a password, but a console whose config no longer lists him refuses him."""
    from tests.conftest import make_settings

    console_deps.settings = make_settings(tmp_path, storage={"data_dir": tmp_path / "data"})
    client = await make_client()
    await login(client, "王工", expect=401)


async def test_logout_ends_the_session(client, tickets):
    await login(client, "张敏")
    from tests.web.conftest import csrf_of

    token = await csrf_of(client, "/tickets")
    response = await client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login"
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


async def test_console_off_without_deps_keeps_the_sandbox_only_app(aiohttp_client, web_bot):
    from bot.web.app import create_web_app

    client = await aiohttp_client(create_web_app(community="西园社区", health=web_bot.health, sandbox_transport=None))
    assert (await client.get("/tickets")).status == 404
    assert (await client.get("/healthz")).status == 200
