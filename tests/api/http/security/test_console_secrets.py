"""Issue 18: a copy of the database gives no console second factor.

TOTP secrets are stored sealed with USDTPAY_ADMIN__TOTP_KEY, which lives in
the settings, never in the database (engine.totp_sealing). The attack: copy
the SQLite file as a backup thief would and look for the secret in every
byte; the app with the key still signs the account in, and one without it
(or with another key) opens nothing. Rows stored plain before the key was
set are sealed by `usdtpay admin seal-totp` or at their next sign-in."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text

from api.cli import main
from engine import totp_sealing
from engine.admin import totp
from engine.config import ApiSettings
from engine.config_admin import AdminSettings
from tests.api.http.security.console_login import PASSWORD, TOTP_KEY, add_account, sign_in
from tests.api.http.security.support import live_app
from tests.dbharness import Db

PROXIED = ApiSettings(forwarded_allow_ips=["127.0.0.1/32"])


@pytest.fixture(autouse=True)
def unsealed_afterwards() -> Iterator[None]:
    yield
    totp_sealing.configure("")  # create_app set it process-wide


def console(key: str) -> AdminSettings:
    return AdminSettings(totp_key=SecretStr(key), cookie_secure=False)


async def stored_secret(db: Db, username: str) -> str:
    """The column as the database holds it (no sealing type in between)."""
    async with db.sessions() as session:
        query = text("SELECT totp_secret FROM admin_accounts WHERE username = :name")
        return str(await session.scalar(query, {"name": username}))


def now_code(secret: str) -> str:
    return totp.code_at(secret, datetime.now(UTC))


async def cli(monkeypatch: pytest.MonkeyPatch, db: Db, key: str, *argv: str) -> int:
    """`usdtpay ...` with that key (in a thread: it runs its own event loop)."""
    monkeypatch.setenv("USDTPAY_DATABASE_URL", db.url)
    monkeypatch.setenv("USDTPAY_ADMIN__TOTP_KEY", key)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return await asyncio.to_thread(main, list(argv))


async def test_a_database_copy_holds_no_totp_secret(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli(monkeypatch, db, TOTP_KEY, "admin", "add", "alice", "--password-stdin") == 0
    found = re.search(r"secret: ([A-Z2-7]{32})", capsys.readouterr().out)
    assert found
    secret = found.group(1)
    # The thief's copy: every page of the database, WAL included.
    source = sqlite3.connect(str(make_url(db.url).database))
    copy = sqlite3.connect(tmp_path / "stolen.db")
    source.backup(copy)
    source.close(), copy.close()
    stolen = (tmp_path / "stolen.db").read_bytes()
    for form in (secret.encode(), secret.lower().encode(), base64.b32decode(secret)):
        assert form not in stolen
    assert (await stored_secret(db, "alice")).startswith("sealed:v1:")
    async with live_app(db, api=PROXIED, admin=console(TOTP_KEY)) as app:
        signed_in = await sign_in(app.base_url, "alice", now_code(secret), "198.51.100.1")
    assert signed_in == 303
    # The copy without the key, or with a guessed one, opens no account; the
    # setting is named only to whoever knows the password.
    for key in ("", "another-key-of-sixteen-chars"):
        async with live_app(db, seed=False, api=PROXIED, admin=console(key)) as app:
            assert await sign_in(app.base_url, "alice", "123456", "198.51.100.2") == 503
            guess = await sign_in(app.base_url, "alice", "123456", "198.51.100.3", password="a wrong guess")
            assert guess == 403
    # The accounts can still be listed (and disabled) without the key.
    assert await cli(monkeypatch, db, "", "admin", "list") == 0
    assert "alice\toperator\tenabled" in capsys.readouterr().out


async def test_admin_add_needs_the_key(
    db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli(monkeypatch, db, "", "admin", "add", "alice", "--password-stdin") == 2
    assert "USDTPAY_ADMIN__TOTP_KEY" in capsys.readouterr().err
    async with db.sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM admin_accounts")) == 0


async def test_secrets_stored_before_the_key_are_sealed(
    any_db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The upgrade: accounts from before admin.totp_key keep signing in,
    and end up sealed."""
    old = {name: await add_account(any_db, name, key="") for name in ("alice", "bob")}
    assert await stored_secret(any_db, "alice") == old["alice"].totp_secret  # plain, as before
    assert await cli(monkeypatch, any_db, TOTP_KEY, "admin", "list") == 0
    assert "2 account(s) keep their TOTP secret unsealed" in capsys.readouterr().err
    # A sign-in with the key set seals that account's secret.
    async with live_app(any_db, api=PROXIED, admin=console(TOTP_KEY)) as app:
        assert await sign_in(app.base_url, "bob", now_code(old["bob"].totp_secret), "198.51.100.3") == 303
    assert (await stored_secret(any_db, "bob")).startswith("sealed:v1:")
    # `admin seal-totp` seals the rest, and the authenticator's codes still work.
    assert await cli(monkeypatch, any_db, TOTP_KEY, "admin", "seal-totp") == 0
    assert "1 TOTP secret(s) sealed" in capsys.readouterr().out
    for name, new in old.items():
        stored = await stored_secret(any_db, name)
        assert stored.startswith("sealed:v1:") and new.totp_secret not in stored
    async with live_app(any_db, seed=False, api=PROXIED, admin=console(TOTP_KEY)) as app:
        assert await sign_in(app.base_url, "alice", now_code(old["alice"].totp_secret), "198.51.100.4") == 303
    assert await cli(monkeypatch, any_db, TOTP_KEY, "admin", "list") == 0
    assert "unsealed" not in capsys.readouterr().err
