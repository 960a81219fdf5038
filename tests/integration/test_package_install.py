"""`usdtpay` works as an installed package, not only from the source tree:
build a wheel, install it into a fresh virtualenv, and run the console
script from another directory. Migrations and static files must ship inside.

Kept fast and offline: the wheel is installed with --no-deps and the new
virtualenv sees this environment's site-packages through a .pth line (a
plain path line, so the editable install's own .pth there is not applied).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.paths import ROOT

IN_CI = os.environ.get("CI", "").lower() == "true"


def find_uv() -> str:
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    if not Path(uv).exists():
        message = "uv is not installed (make setup installs it)"
        if IN_CI:
            pytest.fail(message + "; CI=true: this test must run")
        pytest.skip(message)
    return uv


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def build_wheel(uv: str, out: Path) -> Path:
    # Offline first (the build backend is in uv's cache after `make setup`).
    cmd = [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)]
    result = subprocess.run([*cmd, "--offline"], capture_output=True, text=True, timeout=240)
    if result.returncode != 0:
        run(cmd)
    [wheel] = out.glob("usdtpay-*.whl")
    return wheel


def make_venv(uv: str, venv: Path, wheel: Path) -> Path:
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    # Dependencies come from this environment; the package itself from the wheel.
    Path(purelib, "zz_usdtpay_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([uv, "pip", "install", "--offline", "--no-deps", "--python", str(python), str(wheel)])
    return python


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USDTPAY_") and k != "PYTHONPATH"}
    return {**env, **extra}


def static_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_installed_package_migrates_and_ships_its_files(tmp_path: Path) -> None:
    uv = find_uv()
    wheel = build_wheel(uv, tmp_path / "dist")
    python = make_venv(uv, tmp_path / "venv", wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # The code that runs is the installed copy, not the source tree.
    where = run(
        [str(python), "-c", "import engine, api; print(engine.__file__); print(api.__file__)"], cwd=elsewhere
    )
    assert all(line.startswith(str(tmp_path / "venv")) for line in where.stdout.split()), where.stdout
    installed = Path(where.stdout.split()[1]).parent

    # A relative SQLite path resolves against the working directory.
    usdtpay = str(tmp_path / "venv" / "bin" / "usdtpay")
    env = clean_env(USDTPAY_DATABASE_URL="sqlite+aiosqlite:///var/installed.db", USDTPAY_RATE_FIXED="7.20")
    upgraded = run([usdtpay, "db", "upgrade"], cwd=elsewhere, env=env)
    assert "database at head" in upgraded.stdout
    with sqlite3.connect(elsewhere / "var" / "installed.db") as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
        [(version,)] = conn.execute("select version_num from alembic_version").fetchall()
    assert {"orders", "reservations", "merchants", "wallets", "rate_snapshots"} <= tables
    source_versions = sorted(p.stem for p in (ROOT / "engine/migrations/versions").glob("*.py"))
    assert version.split("_")[0] in {v.split("_")[0] for v in source_versions}

    # The CLI works end to end against that database.
    run([usdtpay, "merchant", "add", "--pid", "20001"], cwd=elsewhere, env=env)  # a new random key
    assert "20001" in run([usdtpay, "merchant", "list"], cwd=elsewhere, env=env).stdout
    assert "7.20" in run([usdtpay, "rate", "show"], cwd=elsewhere, env=env).stdout

    # Static files (the cashier page, logos) ship inside the package.
    assert static_files(installed / "static") == static_files(ROOT / "api" / "static")
    migrations = installed.parent / "engine" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
