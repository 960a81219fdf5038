"""One configuration for every command, and configuration mistakes as one
line with the place and the expected form, exit status 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main
from tests.dbharness import Db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def no_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in its own directory (no ./usdtpay.toml), no USDTPAY_CONFIG."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("USDTPAY_CONFIG", raising=False)
    return tmp_path


def test_unknown_environment_variable_names_the_nearest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USDTPAY_ORDRS__EXPIRE_MINUTES", "15")
    code, _, err = run(capsys, "config", "check")
    assert code == 2
    assert err == (
        "config error: unknown environment variable USDTPAY_ORDRS__EXPIRE_MINUTES; "
        "did you mean USDTPAY_ORDERS__EXPIRE_MINUTES?\n"
    )


def test_unknown_key_in_the_file_names_the_nearest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "conf.toml"
    file.write_text('[tron]\nenabled = true\nnode_url = ["https://x"]\n')
    code, _, err = run(capsys, "--config", str(file), "status")
    assert code == 2
    assert err == f"config error: {file}: unknown setting tron.node_url; did you mean tron.node_urls?\n"


def test_missing_config_file_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "rate", "show")
    assert code == 2
    assert "nope.toml (--config) does not exist" in err


def test_malformed_toml_gives_line_and_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "bad.toml"
    file.write_text('database_url = "sqlite+aiosqlite:///x.db"\n[orders\n')
    code, _, err = run(capsys, "--config", str(file), "status")
    assert code == 2
    assert err.startswith(f"config error: {file}: not valid TOML") and "line 2" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_bad_value_names_the_setting_and_the_form(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USDTPAY_ORDERS__EXPIRE_MINUTES", "soon")
    code, _, err = run(capsys, "status")
    assert code == 2
    assert err.startswith(
        "config error: bad value for orders.expire_minutes (USDTPAY_ORDERS__EXPIRE_MINUTES): "
        "Input should be a valid integer"
    )
    assert "'soon'" in err and err.count("\n") == 1


def test_every_command_reads_the_default_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USDTPAY_DATABASE_URL", raising=False)
    (tmp_path / "usdtpay.toml").write_text(f'database_url = "{db.url}"\n[eth]\nenabled = true\n')
    code, out, _ = run(capsys, "status")
    assert code == 0
    eth = next(line for line in out.splitlines() if line.startswith("eth "))
    assert eth.split()[1] == "yes", out


def test_usdtpay_config_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "elsewhere.toml"
    file.write_text('[wechat]\nenabled = true\napiv3_key = "s3cret-apiv3-key-0123456789abcdef"\n')
    monkeypatch.setenv("USDTPAY_CONFIG", str(file))
    monkeypatch.setenv("USDTPAY_ETH__ENABLED", "true")
    monkeypatch.setenv("USDTPAY_ETH__RPC_URLS", '["http://127.0.0.1:8545"]')
    code, out, _ = run(capsys, "config", "check")
    assert code == 0
    assert f"settings file: {file.resolve()}" in out
    assert "s3cret" not in out
    assert 'wechat.apiv3_key = "********"' in out
    assert "eth watcher: http://127.0.0.1:8545" in out
    assert "wechat channel: https://api.mch.weixin.qq.com" in out
    assert "orders.expire_minutes = 30" in out


def test_usdtpay_config_pointing_nowhere_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USDTPAY_CONFIG", "/nonexistent/usdtpay.toml")
    code, _, err = run(capsys, "config", "check")
    assert code == 2 and "(USDTPAY_CONFIG) does not exist" in err
