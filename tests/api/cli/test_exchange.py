"""`usdtpay exchange add|list|check|disable|enable` and `usdtpay watch okx`,
run in-process against the exchange simulators and a real SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from api.workers.registry import available_workers
from engine.config import ExchangeSettings, Settings
from tests.integration.engine.exchanges.support import Sims, running_sims


@pytest.fixture
def sims() -> Iterator[Sims]:
    with running_sims() as running:
        yield running


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sims: Sims, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("USDTPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("USDTPAY_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("USDTPAY_EXCHANGES__OKX_URL", sims.okx.url)
    monkeypatch.setenv("USDTPAY_EXCHANGES__BINANCE_URL", sims.binance.url)
    monkeypatch.setenv("USDTPAY_EXCHANGES__HTX_URL", sims.htx.url)
    monkeypatch.setenv("USDTPAY_EXCHANGES__SECRETS_KEY", "operator-sealing-key")
    monkeypatch.chdir(tmp_path)  # no usdtpay.toml around
    return monkeypatch


def use_key(env: pytest.MonkeyPatch, key: str, secret: str, passphrase: str = "") -> None:
    env.setenv("EXCHANGE_API_KEY", key)
    env.setenv("EXCHANGE_API_SECRET", secret)
    env.setenv("EXCHANGE_API_PASSPHRASE", passphrase)


def test_add_list_check_disable(
    env: pytest.MonkeyPatch, sims: Sims, capsys: pytest.CaptureFixture[str]
) -> None:
    key = sims.okx.add_key(uid="5550001")
    use_key(env, key.api_key, key.secret, key.passphrase)
    assert main(["exchange", "add", "okx", "--label", "shop", "--pay-to", "pay@shop.example"]) == 0
    out = capsys.readouterr().out
    assert "uid 5550001, rights read" in out and "payers send to pay@shop.example" in out
    assert key.secret not in out and key.passphrase not in out
    assert main(["exchange", "list"]) == 0
    listed = capsys.readouterr().out
    assert "#1 okx uid 5550001 pay to pay@shop.example rights read enabled" in listed
    assert key.api_key not in listed and key.secret not in listed
    assert main(["exchange", "check"]) == 0
    assert "ok (read only)" in capsys.readouterr().out
    key.perm = "read_only,withdraw"  # the owner widened the key afterwards
    assert main(["exchange", "check", "1"]) == 1
    assert "REFUSED, account disabled" in capsys.readouterr().out
    main(["exchange", "list"])
    assert "rights read,withdraw disabled" in capsys.readouterr().out
    key.perm = "read_only"
    assert main(["exchange", "enable", "1"]) == 0 and main(["exchange", "disable", "1"]) == 0
    assert "disabled" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("exchange", "rights"),
    [
        ("okx", {"perm": "read_only,trade"}),
        ("binance", {"enableWithdrawals": True}),
        ("htx", {"permission": "readOnly,trade,withdraw"}),
    ],
)
def test_a_key_that_can_do_more_than_read_is_refused(
    env: pytest.MonkeyPatch,
    sims: Sims,
    capsys: pytest.CaptureFixture[str],
    exchange: str,
    rights: dict[str, object],
) -> None:
    if exchange == "okx":
        k = sims.okx.add_key(**rights)
        use_key(env, k.api_key, k.secret, k.passphrase)
    elif exchange == "binance":
        b = sims.binance.add_key(**rights)  # type: ignore[arg-type]
        use_key(env, b.api_key, b.secret)
    else:
        h = sims.htx.add_key(**rights)
        use_key(env, h.access_key, h.secret)
    assert main(["exchange", "add", exchange]) == 2
    captured = capsys.readouterr()
    assert "read permission only" in captured.err and "added" not in captured.out
    main(["exchange", "list"])
    assert capsys.readouterr().out == ""


def test_watch_until_caught_up(
    env: pytest.MonkeyPatch, sims: Sims, capsys: pytest.CaptureFixture[str]
) -> None:
    key = sims.htx.add_key()
    use_key(env, key.access_key, key.secret)
    assert main(["exchange", "add", "htx"]) == 0
    assert main(["watch", "htx", "--until-caught-up"]) == 0
    assert "htx account #1: caught up at" in capsys.readouterr().out


def test_run_starts_a_watcher_per_enabled_exchange() -> None:
    settings = Settings(rate_fixed=1, exchanges=ExchangeSettings(enabled=["okx", "htx"]))  # type: ignore[arg-type]
    workers = available_workers(settings)
    assert {"watch-okx", "watch-htx", "expiry"} <= set(workers) and "watch-binance" not in workers
    assert "watch-okx" not in available_workers(Settings(rate_fixed=1))  # type: ignore[arg-type]


def test_reconcile_reads_the_exchange(
    env: pytest.MonkeyPatch, sims: Sims, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = sims.okx.add_key()
    use_key(env, key.api_key, key.secret, key.passphrase)
    assert main(["exchange", "add", "okx"]) == 0
    sims.okx.add_deposit(amt="4.000004")  # nobody ordered this
    assert main(["watch", "okx", "--until-caught-up"]) == 0
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    assert main(["reconcile", "--exchange", "okx", "--out", str(out_dir)]) == 1  # needs attention
    out = capsys.readouterr().out
    assert "okx" in out and "unmatched_transfer" in out
    assert sorted(p.suffix for p in out_dir.iterdir()) == [".csv", ".json"]


def test_a_wrong_secret_is_a_clear_error_without_the_secret(
    env: pytest.MonkeyPatch, sims: Sims, capsys: pytest.CaptureFixture[str]
) -> None:
    key = sims.binance.add_key()
    use_key(env, key.api_key, "not-the-secret-0123")
    assert main(["exchange", "add", "binance"]) == 2
    err = capsys.readouterr().err
    assert "BINANCE did not accept the key" in err and "-1022" in err
    assert "not-the-secret-0123" not in err and "Traceback" not in err
