"""PostgreSQL pool: a pooled connection is pinged only after sitting idle
(engine.db.install_postgres_hooks), and one lost while idle is replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from engine import db

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(pg_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return seen


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_used_a_moment_ago_is_not_pinged(engine: AsyncEngine, pings: list[object]) -> None:
    first = await backend_pid(engine)
    assert await backend_pid(engine) == first  # the same pooled connection
    assert pings == []


async def test_an_idle_connection_is_pinged_and_replaced_when_lost(
    engine: AsyncEngine, pings: list[object], monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    lost = await backend_pid(engine)  # back in the pool, then killed there
    admin = create_async_engine(pg_url, poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
    await admin.dispose()
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    replacement = await backend_pid(engine)
    assert replacement != lost
    assert pings  # the dead connection was pinged, failed, and was replaced before use
