"""Shared fixtures. `db` is SQLite; `pg_db` is PostgreSQL; `any_db` runs a
test on both. Tests needing PostgreSQL skip with a reason when it is
missing, except under CI=true where they fail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.dbharness import (
    Db,
    create_pg_database,
    drop_pg_database,
    new_sqlite_url,
    open_db,
    require_postgres,
    truncate_all,
)


@pytest.fixture(scope="session")
def sqlite_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    require_postgres()
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def sqlite_url(sqlite_root: Path, tmp_path: Path) -> str:
    return new_sqlite_url(sqlite_root, tmp_path / "usdtpay.db")


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Db]:
    handle = await open_db(sqlite_url)
    yield handle
    await handle.close()


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Db]:
    handle = await open_db(pg_url)
    await truncate_all(handle.engine)
    yield handle
    await handle.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, sqlite_root: Path, tmp_path: Path) -> str:
    # A sync fixture: making the SQLite template and the PostgreSQL database
    # run their own event loops, which cannot happen inside a running one.
    if request.param == "sqlite":
        return new_sqlite_url(sqlite_root, tmp_path / "usdtpay.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def any_db(any_db_url: str) -> AsyncIterator[Db]:
    handle = await open_db(any_db_url)
    if handle.backend == "postgresql":
        await truncate_all(handle.engine)
    yield handle
    await handle.close()
