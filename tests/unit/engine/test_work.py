"""Whole units of work (engine.work) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.models import Wallet
from engine.work import AsyncSessionRunner, SqliteThreadRunner, create_runner
from tests.dbharness import Db
from tests.factories import tron_address

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def add(session: Session, n: int) -> int:
    wallet = Wallet(chain="tron", address=tron_address(n), enabled=True, created_at=NOW)
    session.add(wallet)
    session.flush()
    return wallet.id


async def wallet_count(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Wallet)) or 0)


def test_the_runner_follows_the_database() -> None:
    assert isinstance(create_runner("sqlite+aiosqlite:///var/x.db", None), SqliteThreadRunner)  # type: ignore[arg-type]
    # A second connection to an in-memory database would see another database.
    assert isinstance(create_runner("sqlite+aiosqlite:///:memory:", None), AsyncSessionRunner)  # type: ignore[arg-type]
    assert isinstance(create_runner("postgresql+asyncpg://u@h/d", None), AsyncSessionRunner)  # type: ignore[arg-type]


async def test_commits_what_the_work_returns(any_db: Db) -> None:
    wallet_id = await any_db.work.run(lambda s: add(s, 1))
    async with any_db.sessions() as session:
        stored = await session.get(Wallet, wallet_id)
    assert stored is not None and stored.address == tron_address(1)


async def test_rolls_back_everything_when_the_work_raises(any_db: Db) -> None:
    def half_done(session: Session) -> None:
        add(session, 1)
        add(session, 2)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        await any_db.work.run(half_done)
    assert await wallet_count(any_db) == 0
    # The runner is usable afterwards.
    await any_db.work.run(lambda s: add(s, 3))
    assert await wallet_count(any_db) == 1


async def test_sqlite_units_run_on_one_thread_off_the_event_loop(db: Db) -> None:
    seen: set[int] = set()

    def where(session: Session) -> None:
        seen.add(threading.get_ident())

    await asyncio.gather(*(db.work.run(where) for _ in range(5)))
    assert len(seen) == 1 and threading.get_ident() not in seen


async def test_sqlite_connection_has_the_same_settings_as_the_async_one(db: Db) -> None:
    def pragmas(session: Session) -> tuple[object, ...]:
        return tuple(
            session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        )

    assert await db.work.run(pragmas) == ("wal", 1, 30000)


async def test_sqlite_unit_waits_for_another_writer_instead_of_failing(db: Db) -> None:
    async with db.sessions() as holder:
        # The async engine's transaction starts with BEGIN IMMEDIATE: the
        # write lock is held until it commits.
        holder.add(Wallet(chain="tron", address=tron_address(1), enabled=True, created_at=NOW))
        await holder.flush()
        pending = asyncio.ensure_future(db.work.run(lambda s: add(s, 2)))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await holder.commit()
    await asyncio.wait_for(pending, 10)
    assert await wallet_count(db) == 2
