"""`usdtpay --help` and `usdtpay status` start without the heavy packages
they do not need (what they import, not how long it takes: no timing)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from tests.dbharness import Db
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


# What `usdtpay status` must not import again (issue 15): SQLAlchemy with its
# ORM and the models were most of its start-up; it reads engine.monitoring's
# plain SQL through aiosqlite or asyncpg alone. Then everything it never
# used: the other commands' modules (and what they import), cryptography
# (only sealing or opening a secret needs it), the rate service (status
# reads the newest snapshot row itself), the web and chain libraries.
NOT_FOR_STATUS = (
    "sqlalchemy",
    "engine.models",
    "engine.db",
    "engine.settlement",
    "api.cli.demo",
    "api.cli.exchange",
    "api.cli.reconcile",
    "api.cli.serve",
    "engine.audit",
    "engine.rates",
    "cryptography",
    "litestar",
    "uvicorn",
    "web3",
    "tronpy",
    "httpx",
)


def unneeded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


async def test_status_needs_the_settings_and_its_databases_driver_only(any_db: Db) -> None:
    # any_db: migrated and empty (the shared PostgreSQL database truncated), so
    # no exchange account left by another test brings in the exchange section.
    answer = await asyncio.to_thread(probe, "status", env={"USDTPAY_DATABASE_URL": any_db.url})
    assert answer["code"] == 0
    modules = set(answer["modules"])
    assert "api.cli.status_report" in modules  # the probe saw the command run
    driver = "aiosqlite" if any_db.backend == "sqlite" else "asyncpg"
    assert {"pydantic", driver, "engine.monitoring.reads"} <= modules  # settings, then the reads
    assert answer["mapped"] is False
    assert not unneeded(modules, (*NOT_FOR_STATUS, "engine.exchanges")), unneeded(modules, NOT_FOR_STATUS)


def test_status_with_exchanges_in_use_still_loads_no_sqlalchemy(sqlite_url: str) -> None:
    env = {"USDTPAY_DATABASE_URL": sqlite_url, "USDTPAY_EXCHANGES__ENABLED": '["okx"]'}
    answer = probe("status", env=env)
    assert answer["code"] == 0
    modules = set(answer["modules"])
    assert "engine.monitoring.parts" in modules  # the exchange section judged okx's watcher
    assert not unneeded(modules, NOT_FOR_STATUS), unneeded(modules, NOT_FOR_STATUS)
