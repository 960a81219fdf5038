"""Accounts, sign-in with password and TOTP, sessions and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.admin import queries, service, totp
from engine.admin.roles import NotAllowed, allowed, require
from engine.errors import BadInput, Conflict
from engine.models import AdminSession, AuditEntry
from tests.dbharness import Db

NOW = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
PASSWORD = "a long enough phrase"


async def add(db: Db, name: str = "alice", role: str = "operator") -> service.NewAccount:
    async with db.sessions() as session:
        new = await service.add_account(session, name, PASSWORD, role, NOW)
        await session.commit()
        return new


async def test_no_account_means_console_off(db: Db) -> None:
    async with db.sessions() as session:
        assert not await queries.any_account(session)
    await add(db)
    async with db.sessions() as session:
        assert await queries.any_account(session)


async def test_add_account_checks(db: Db) -> None:
    await add(db)
    async with db.sessions() as session:
        with pytest.raises(Conflict):
            await service.add_account(session, "alice", PASSWORD, "operator", NOW)
        with pytest.raises(BadInput, match="role"):
            await service.add_account(session, "bob", PASSWORD, "root", NOW)
        with pytest.raises(BadInput, match="at least"):
            await service.add_account(session, "bob", "short", "support", NOW)
        with pytest.raises(BadInput, match="username"):
            await service.add_account(session, "<b>", PASSWORD, "support", NOW)


async def test_password_and_fresh_totp_sign_in_once(db: Db) -> None:
    new = await add(db)
    assert new.account.password_hash.startswith("scrypt$") and PASSWORD not in new.account.password_hash
    code = totp.code_at(new.totp_secret, NOW)
    async with db.sessions() as session:
        account = await service.authenticate(session, "alice", PASSWORD, code, NOW)
        await session.commit()
    assert account.last_login_at == NOW
    async with db.sessions() as session:
        with pytest.raises(service.LoginRefused) as replay:
            await service.authenticate(session, "alice", PASSWORD, code, NOW)
    assert "reused" in replay.value.why and replay.value.message == "wrong username, password or code"


@pytest.mark.parametrize(
    ("username", "password", "good_code", "why"),
    [
        ("alice", "wrong password here", True, "wrong password"),
        ("alice", PASSWORD, False, "TOTP"),
        ("nobody", PASSWORD, True, "unknown"),
    ],
)
async def test_sign_in_refused(db: Db, username: str, password: str, good_code: bool, why: str) -> None:
    new = await add(db)
    code = totp.code_at(new.totp_secret, NOW)
    if not good_code:
        code = f"{(int(code) + 1) % 1_000_000:06d}"
    async with db.sessions() as session:
        with pytest.raises(service.LoginRefused) as refused:
            await service.authenticate(session, username, password, code, NOW)
    assert why in refused.value.why


async def test_session_lifetime_and_idle_expiry(db: Db) -> None:
    new = await add(db)
    async with db.sessions() as session:
        token, row = await service.open_session(session, new.account, NOW, timedelta(hours=8), "127.0.0.1")
        await session.commit()
    assert row.token_hash == service.token_hash(token) and token not in row.token_hash
    idle = timedelta(minutes=30)
    async with db.sessions() as session:
        assert await service.load_session(session, token, NOW + timedelta(minutes=20), idle) is not None
        await session.commit()
    async with db.sessions() as session:  # 20 min after the last use: still alive
        assert await service.load_session(session, token, NOW + timedelta(minutes=40), idle) is not None
        await session.commit()
    async with db.sessions() as session:  # idle for longer than 30 min: gone, row removed
        assert await service.load_session(session, token, NOW + timedelta(minutes=75), idle) is None
        await session.commit()
        assert await session.get(AdminSession, service.token_hash(token)) is None
    async with db.sessions() as session:
        token2, _ = await service.open_session(session, new.account, NOW, timedelta(hours=1), "")
        await session.commit()
    async with db.sessions() as session:  # past the absolute lifetime even when busy
        assert (
            await service.load_session(session, token2, NOW + timedelta(hours=1), timedelta(hours=9)) is None
        )
        assert await service.load_session(session, "forged", NOW, idle) is None


async def test_logout_removes_the_session(db: Db) -> None:
    new = await add(db)
    async with db.sessions() as session:
        token, _ = await service.open_session(session, new.account, NOW, timedelta(hours=8), "")
        await service.close_session(session, token)
        await session.commit()
    async with db.sessions() as session:
        assert await service.load_session(session, token, NOW, timedelta(hours=1)) is None


async def test_audit_record_keeps_before_and_after(db: Db) -> None:
    async with db.sessions() as session:
        await service.record(
            session,
            "alice",
            "close_order",
            NOW,
            target="order:7",
            before={"status": "pending", "at": NOW},
            after={"status": "closed"},
            ip="127.0.0.1",
        )
        await session.commit()
    async with db.sessions() as session:
        [entry] = await queries.audit_entries(session, target="order:7")
    assert isinstance(entry, AuditEntry)
    assert entry.before == {"status": "pending", "at": NOW.isoformat()} and entry.after == {
        "status": "closed"
    }


def test_roles() -> None:
    assert allowed("operator", "credit") and allowed("support", "resend")
    assert not allowed("support", "credit") and not allowed("support", "rotate_key")
    with pytest.raises(NotAllowed, match="support role may not credit"):
        require("support", "credit")
