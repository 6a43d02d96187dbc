"""Passwords (argon2id) and API tokens, and the `gridbot staff` commands that set them."""

from __future__ import annotations

import asyncio
import io

import pytest
from sqlalchemy import select

from bot import cli
from bot.services import accounts
from storage.db import create_engine, session_factory
from storage.models import Person, StaffCredential
from tests.conftest import ROOT, database_url


def test_password_hash_is_argon2id_and_salted():
    first, second = accounts.hash_password("same-password"), accounts.hash_password("same-password")
    assert first.startswith("$argon2id$") and first != second
    assert accounts.verify_password(first, "same-password")
    assert not accounts.verify_password(first, "other-password")
    assert not accounts.verify_password(None, "same-password")
    assert not accounts.verify_password("not a hash", "same-password")


@pytest.mark.parametrize("bad", ["short", " leading-space", "trailing-space ", "x" * 300])
def test_password_rules(bad):
    with pytest.raises(accounts.AccountError):
        accounts.check_password_rules(bad)


def test_token_is_stored_as_hash_only():
    assert len(accounts.hash_token("gbt_x")) == 64 and accounts.hash_token("gbt_x") != "gbt_x"


@pytest.fixture
def cli_env(tmp_path, monkeypatch, reset_database):
    monkeypatch.setenv("GRIDBOT_STORAGE_URL", database_url(tmp_path))
    return tmp_path


async def _credential(url: str, name: str) -> StaffCredential | None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            person = await session.scalar(select(Person).where(Person.name == name, Person.role != "resident"))
            return await session.get(StaffCredential, person.id) if person else None
    finally:
        await engine.dispose()


def test_cli_set_password_reads_stdin(cli_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-long-password\n"))
    assert cli.main(["staff", "set-password", "张敏", "--config", str(ROOT / "config.toml")]) == 0
    out = capsys.readouterr()
    assert "a-good-long-password" not in out.out + out.err
    credential = asyncio.run(_credential(database_url(cli_env), "张敏"))
    assert accounts.verify_password(credential.password_hash, "a-good-long-password")


def test_cli_refuses_weak_passwords_and_unknown_names(cli_env, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["staff", "set-password", "张敏", "--config", str(ROOT / "config.toml")]) == 1
    assert "至少 8 个字符" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-long-password\n"))
    assert cli.main(["staff", "set-password", "王阿姨", "--config", str(ROOT / "config.toml")]) == 1
    assert "没有「王阿姨」" in capsys.readouterr().err


def test_cli_api_token_prints_it_once(cli_env, capsys):
    assert cli.main(["staff", "api-token", "李强", "--config", str(ROOT / "config.toml")]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("gbt_") and "只显示这一次" in out.err
    credential = asyncio.run(_credential(database_url(cli_env), "李强"))
    assert credential.api_token_hash == accounts.hash_token(token)
    assert not credential.password_hash.startswith("$argon2")  # no console password yet
