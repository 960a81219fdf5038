"""Operator accounts and console sessions: create an account, sign in with
password and TOTP, open / load / close a session, write the audit log.

Services flush; the caller (a console request, the CLI) commits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from engine import totp_sealing
from engine.admin import passwords, queries, totp
from engine.admin.roles import ROLES
from engine.errors import BadInput, Conflict, Forbidden
from engine.models import AdminAccount, AdminSession, AuditEntry

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
# Verified when the username is unknown, so both answers take as long.
_DUMMY_HASH = passwords.hash_password(secrets.token_hex(16))
TOUCH_EVERY = timedelta(seconds=60)


class LoginRefused(Forbidden):
    """One message for every cause, so a guesser learns nothing."""

    code = "login_refused"

    def __init__(self, why: str) -> None:
        super().__init__("wrong username, password or code")
        self.why = why  # for the audit log only


@dataclass(frozen=True)
class NewAccount:
    account: AdminAccount
    totp_secret: str
    totp_uri: str


async def add_account(
    session: AsyncSession, username: str, password: str, role: str, now: datetime
) -> NewAccount:
    if not USERNAME.match(username):
        raise BadInput("username: 2 to 64 letters, digits or . _ @ -, starting with a letter or digit")
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}")
    weak = passwords.check_strength(password)
    if weak:
        raise BadInput(weak)
    if await queries.account_by_username(session, username) is not None:
        raise Conflict(f"operator account {username} exists")
    secret = totp.new_secret()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    account = AdminAccount(
        username=username,
        password_hash=hashed,
        totp_secret=secret,
        totp_last_step=0,
        role=role,
        enabled=True,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    return NewAccount(account, secret, totp.provisioning_uri(secret, username))


async def authenticate(
    session: AsyncSession, username: str, password: str, code: str, now: datetime
) -> AdminAccount:
    """The account when the password and a fresh TOTP code match; flush only
    (the accepted step is stored so the same code cannot be replayed)."""
    account = await queries.account_by_username(session, username)
    stored = account.password_hash if account is not None else _DUMMY_HASH
    password_ok = await asyncio.to_thread(passwords.verify_password, password, stored)
    if account is None or not account.enabled:
        raise LoginRefused("unknown or disabled account")
    if not password_ok:
        raise LoginRefused("wrong password")
    totp_sealing.check_opened(account.totp_secret)  # only past the password: no hint to a guesser
    step = totp.matching_step(account.totp_secret, code, now, account.totp_last_step)
    if step is None:
        raise LoginRefused("wrong or reused TOTP code")
    account.totp_last_step = step
    account.last_login_at = now
    if totp_sealing.configured():
        flag_modified(account, "totp_secret")  # written back sealed: a row from before the key
    await session.flush()
    return account


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def open_session(
    session: AsyncSession, account: AdminAccount, now: datetime, lifetime: timedelta, ip: str
) -> tuple[str, AdminSession]:
    """A new session; returns the cookie token (kept nowhere else) and the row."""
    token = secrets.token_urlsafe(32)
    row = AdminSession(
        token_hash=token_hash(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
        ip=ip[:64],
    )
    session.add(row)
    await session.flush()
    return token, row


async def load_session(
    session: AsyncSession, token: str, now: datetime, idle: timedelta
) -> tuple[AdminSession, AdminAccount] | None:
    """The live session for a cookie token, or None (expired ones are removed)."""
    if not token or len(token) > 128:
        return None
    found = await queries.session_with_account(session, token_hash(token))
    if found is None:
        return None
    row, account = found
    if row.expires_at <= now or row.last_seen_at + idle <= now or not account.enabled:
        await session.delete(row)
        await session.flush()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        await session.flush()
    return row, account


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(AdminSession).where(AdminSession.token_hash == token_hash(token)))
    await session.flush()


def _plain(value: Any) -> Any:
    """JSON-safe values for the audit log (datetimes as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


async def record(
    session: AsyncSession,
    username: str,
    action: str,
    now: datetime,
    *,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
    ip: str = "",
    ok: bool = True,
) -> AuditEntry:
    """One audit line; flush only. Written in the same unit of work as the
    action it describes, so an action and its audit line commit together."""
    entry = AuditEntry(
        at=now,
        username=username[:64],
        action=action[:32],
        target=target[:128],
        ok=ok,
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        note=note[:4000],
        ip=ip[:64],
    )
    session.add(entry)
    await session.flush()
    return entry
