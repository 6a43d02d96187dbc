"""Staff console accounts: passwords hashed with argon2id, API tokens stored as hashes only.

Nothing here logs a password or a token; callers must not either.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import directory
from storage.models import Person, StaffCredential

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "gbt_"

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, 3 passes)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name takes as long as a wrong password.

    Made on first use, not at import: hashing takes 64 MiB, which would add to every start's peak memory.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(Exception):
    """A Chinese explanation for the operator (bad name, weak password)."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"密码最多 {MAX_PASSWORD_LENGTH} 个字符。")
    if password.strip() != password or not password.strip():
        raise AccountError("密码开头和结尾不能是空格。")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """API tokens are 256 random bits: a plain SHA-256 is enough to keep them out of the database."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_version(password_hash: str) -> str:
    """A short fingerprint of the current password hash; a new password ends older console sessions."""
    return hmac.new(b"gridbot-session", password_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def configured_staff(settings: Settings, name: str) -> bool:
    return any(s.name == name for s in settings.staff)


async def staff_member(session: AsyncSession, settings: Settings, name: str) -> Person:
    """The configured staff member called `name` (the database row made from [[staff]])."""
    person = await directory.staff_named(session, name) if configured_staff(settings, name) else None
    if person is None:
        names = "、".join(s.name for s in settings.staff) or "（无）"
        raise AccountError(f"配置的工作人员里没有「{name}」。现有：{names}")
    return person


async def set_password(session: AsyncSession, person: Person, password: str, now: datetime) -> None:
    check_password_rules(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    row = await session.get(StaffCredential, person.id)
    if row is None:
        session.add(StaffCredential(person_id=person.id, password_hash=password_hash, updated_at=now))
    else:
        row.password_hash = password_hash
        row.updated_at = now
    await session.flush()


async def issue_api_token(session: AsyncSession, person: Person, now: datetime) -> str:
    """A new token replaces the old one; only its hash is stored, so it is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = await session.get(StaffCredential, person.id)
    if row is None:
        # No console password yet: an unusable one (no password verifies against a random hash).
        row = StaffCredential(person_id=person.id, password_hash="!" + secrets.token_hex(16), updated_at=now)
        session.add(row)
    row.api_token_hash = hash_token(token)
    row.updated_at = now
    await session.flush()
    return token


async def authenticate(session: AsyncSession, settings: Settings, name: str, password: str) -> Person | None:
    """The staff member when name and password match; None otherwise (same work either way)."""
    person = None
    credential = None
    if configured_staff(settings, name):
        person = await directory.staff_named(session, name)
        if person is not None:
            credential = await session.get(StaffCredential, person.id)
    password_hash = credential.password_hash if credential is not None else None
    usable = password_hash if password_hash and password_hash.startswith("$argon2") else None
    ok = await asyncio.to_thread(verify_password, usable, password)
    return person if ok and person is not None else None


async def person_for_token(session: AsyncSession, token: str) -> Person | None:
    if not token or len(token) > 200:
        return None
    return await session.scalar(
        select(Person).join(StaffCredential, StaffCredential.person_id == Person.id)
        .where(StaffCredential.api_token_hash == hash_token(token), Person.role != "resident")
    )
