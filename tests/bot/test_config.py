"""Settings: the shipped example, environment overrides, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_example_is_complete():
    settings = load_settings(ROOT / "config.toml", {})
    assert settings.community.name == "西园社区"
    assert settings.storage.url == "sqlite+aiosqlite:///data/gridbot.db"
    assert settings.transport.kind == "sandbox"
    assert [g.role for g in settings.groups].count("staff") == 1
    assert len([g for g in settings.groups if g.role == "residents"]) >= 3
    assert {s.role for s in settings.staff} == {"grid_worker", "supervisor"}
    assert "白杨河" in settings.community_words() and "张敏" in settings.community_words()


def test_defaults_without_a_file():
    settings = load_settings(None, {})
    assert settings.web.port == 8080 and settings.sla.normal == 168


def test_environment_overrides_every_section():
    env = {
        "GRIDBOT_WEB_PORT": "9123",
        "GRIDBOT_STORAGE_URL": "postgresql+asyncpg://u@127.0.0.1/test",
        "GRIDBOT_COMMUNITY_NAME": "东湖社区",
        "GRIDBOT_SLA_URGENT": "12",
        "WECHATY_PUPPET_SERVICE_TOKEN": "insecure_abc",
        "WECHATY_PUPPET_SERVICE_ENDPOINT": "127.0.0.1:8788",
        "GRIDBOT_TRANSPORT_KIND": "wechaty",
    }
    settings = load_settings(ROOT / "config.toml", env)
    assert settings.web.port == 9123
    assert settings.storage.url.startswith("postgresql+asyncpg://")
    assert settings.community.name == "东湖社区"
    assert settings.sla.urgent == 12
    assert settings.transport.token == "insecure_abc" and settings.transport.endpoint == "127.0.0.1:8788"


def test_gridbot_variable_beats_the_wechaty_alias():
    settings = load_settings(None, {"WECHATY_PUPPET_SERVICE_TOKEN": "a", "GRIDBOT_TRANSPORT_TOKEN": "b"})
    assert settings.transport.token == "b"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('[web]\nport = "abc"\n', {}, "web.port: expected an integer"),
        ("", {"GRIDBOT_WEB_PORT": "abc"}, "web.port: expected an integer (got 'abc') (from GRIDBOT_WEB_PORT)"),
        ("[web]\nport = 70000\n", {}, "web.port: Input should be less than or equal to 65535"),
        ('[transport]\nkind = "telegram"\n', {}, "transport.kind: must be one of 'sandbox' or 'wechaty'"),
        ('[transport]\nkind = "wechaty"\n', {}, "transport.endpoint: required"),
        ("[community]\ntimezone = \"Mars/Olympus\"\n", {}, "community.timezone: unknown time zone"),
        ("[web]\nprot = 1\n", {}, "web.prot: unknown key"),
        ('[storage]\nurl = "mysql://x"\n', {}, "storage.url: use sqlite+aiosqlite"),
        ('[[grids]]\nid = "g1"\nname = "一"\n[[groups]]\ntopic = "A"\nrole = "residents"\ngrid = "g9"\n'
         '[[groups]]\ntopic = "S"\nrole = "staff"\n', {}, "groups[0].grid: unknown grid 'g9'"),
        ('[[groups]]\ntopic = "A"\nrole = "residents"\n', {}, "groups[0].grid: required for a residents group"),
        ('[[staff]]\nname = "张敏"\nrole = "boss"\n', {}, "staff[0].role: must be one of"),
        ('[[grids]]\nid = "g1"\nname = "一"\n[[grids]]\nid = "g1"\nname = "二"\n', {},
         "grids[1].id: duplicate grid id 'g1'"),
        ("[web\nport = 1\n", {}, "not valid TOML"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, text, env, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env)
    assert any(expected in line for line in caught.value.problems), caught.value.problems


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", {})


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)


def test_check_config_exits_2_and_names_the_key(tmp_path):
    result = run_cli("check-config", "--config", str(write(tmp_path, '[web]\nport = "abc"\n')))
    assert result.returncode == 2
    assert "web.port: expected an integer" in result.stderr


def test_check_config_accepts_the_example():
    result = run_cli("check-config", "--config", "config.toml")
    assert result.returncode == 0, result.stderr
    assert "配置正确" in result.stdout


def test_run_validates_before_starting(tmp_path):
    result = run_cli("run", "--config", str(write(tmp_path, '[sla]\nurgent = "soon"\n')))
    assert result.returncode == 2
    assert "sla.urgent: expected a number" in result.stderr
