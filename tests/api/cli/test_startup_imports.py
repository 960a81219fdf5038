"""`usdtpay --help` and `usdtpay status` start without the heavy packages
they do not need (what they import, not how long it takes: no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.paths import ROOT

HEAVY = ("sqlalchemy", "pydantic", "pydantic_settings", "litestar", "uvicorn", "web3", "tronpy", "httpx")
PROBE = """
import contextlib, io, json, sys
from api.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
loaded = sorted({name.split(".")[0] for name in sys.modules})
models = sys.modules.get("engine.models")
# The first ORM statement configures every mapper; Core statements do not.
mapped = bool(models) and __import__("sqlalchemy").inspect(models.WatcherLease).configured
print(json.dumps({"code": code, "loaded": loaded, "modules": sorted(sys.modules), "mapped": mapped}))
"""


def loaded_by(*argv: str, env: dict[str, str] | None = None) -> tuple[object, set[str]]:
    answer = probe(*argv, env=env)
    return answer["code"], set(answer["loaded"])


def probe(*argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a fresh `usdtpay ARGV` did: exit code, top-level packages and
    every module it imported, whether it configured the ORM mappers."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_help_imports_no_heavy_package() -> None:
    code, loaded = loaded_by("--help")
    assert code == 0
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_status_needs_the_database_and_settings_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'status.db'}"
    code, loaded = loaded_by("db", "upgrade", env={"USDTPAY_DATABASE_URL": url})
    assert code == 0
    code, loaded = loaded_by("status", env={"USDTPAY_DATABASE_URL": url})
    assert code == 0
    assert {"sqlalchemy", "pydantic"} <= loaded  # it reads the settings and the database
    assert loaded.isdisjoint({"litestar", "uvicorn", "web3", "tronpy"}), sorted(loaded)


# What `usdtpay status` once loaded without using it: the other commands'
# modules (and what they import), cryptography (only sealing or opening a
# merchant key needs it) and, on SQLite, SQLAlchemy's PostgreSQL dialect with
# every driver module under it (the settlement package's ON CONFLICT insert);
# the rate service (status reads the newest snapshot row itself).
NOT_FOR_STATUS = (
    "api.cli.demo",
    "api.cli.exchange",
    "api.cli.reconcile",
    "api.cli.serve",
    "engine.audit",
    "engine.exchanges",
    "engine.rates",
    "cryptography",
    "sqlalchemy.dialects.postgresql",
    "litestar",
    "uvicorn",
    "web3",
    "tronpy",
    "httpx",
)


def test_status_imports_its_own_command_only_and_maps_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'status.db'}"
    code, _ = loaded_by("db", "upgrade", env={"USDTPAY_DATABASE_URL": url})
    assert code == 0
    answer = probe("status", env={"USDTPAY_DATABASE_URL": url})
    assert answer["code"] == 0
    modules = set(answer["modules"])
    assert "api.cli.status_report" in modules  # the probe saw the command run
    assert answer["mapped"] is False  # it read tables, not mapped classes
    unneeded = sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in NOT_FOR_STATUS))
    assert not unneeded, unneeded
