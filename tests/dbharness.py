"""Real databases for tests: a migrated SQLite file per test (copied from a
template migrated once), and a PostgreSQL database per test session whose
tables are emptied between tests."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.db import SessionFactory, create_engine, create_session_factory
from engine.migrate import upgrade
from engine.models import Base
from engine.work import WorkRunner, create_runner

PG_HOST = os.environ.get("USDTPAY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("USDTPAY_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: SessionFactory
    # The runner the API uses for this database (engine.work).
    work: WorkRunner

    async def close(self) -> None:
        await self.work.close()
        await self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if postgres_reachable():
        return
    message = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}"
    if IN_CI:
        pytest.fail(message + " (CI=true: this test must run)")
    pytest.skip(message + "; start it or set USDTPAY_TEST_PG_HOST/PORT")


def sqlite_template(tmp_root: Path) -> Path:
    template = tmp_root / "template.db"
    if not template.exists():
        upgrade(f"sqlite+aiosqlite:///{template}")
    return template


def new_sqlite_url(tmp_root: Path, dest: Path) -> str:
    shutil.copyfile(sqlite_template(tmp_root), dest)
    return f"sqlite+aiosqlite:///{dest}"


def create_pg_database() -> str:
    """Create and migrate a fresh database; returns its URL."""
    import asyncio

    name = f"usdtpay_t_{uuid.uuid4().hex[:12]}"

    async def _create() -> None:
        admin = create_engine(PG_ADMIN_URL)
        try:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await admin.dispose()

    asyncio.run(_create())
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    upgrade(url)
    return url


def drop_pg_database(url: str) -> None:
    import asyncio

    name = url.rsplit("/", 1)[1]

    async def _drop() -> None:
        admin = create_engine(PG_ADMIN_URL)
        try:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await admin.dispose()

    asyncio.run(_drop())


async def truncate_all(engine: AsyncEngine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def open_db(url: str) -> Db:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    return Db(url=url, engine=engine, sessions=sessions, work=create_runner(url, sessions))
