"""`python -m scripts.check_migrations` (make lint) checks PostgreSQL when it
is reachable, and under CI=true refuses to pass without it."""

from __future__ import annotations

import os
import socket

import pytest

from scripts import check_migrations, scratch_pg


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_migrations, "PG_HOST", "127.0.0.1")
    monkeypatch.setattr(check_migrations, "PG_PORT", _closed_port())


@pytest.mark.usefixtures("unreachable")
def test_ci_fails_when_postgres_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI", "true")
    assert check_migrations.check_postgres(None) is False
    assert "CI=true: the PostgreSQL check must run" in capsys.readouterr().err


@pytest.mark.usefixtures("unreachable")
def test_elsewhere_it_says_it_checked_sqlite_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert check_migrations.check_postgres(None) is True
    assert "checked SQLite only" in capsys.readouterr().out


def test_reachable_postgres_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    if not scratch_pg.reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (CI=true: it must run)")
        pytest.skip(
            "PostgreSQL is not reachable on 127.0.0.1:5432; start it or set USDTPAY_TEST_PG_HOST/PORT"
        )
    checked: list[str] = []
    monkeypatch.setattr(check_migrations, "check", lambda url: checked.append(url) or True)
    assert check_migrations.check_postgres(None) is True
    assert checked and checked[0].startswith("postgresql+asyncpg://")
