"""SQLite sessions: a transaction begins with the write lock (BEGIN
IMMEDIATE) unless its connection is marked as only reading (engine.db.READ_ONLY)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import make_url, text

from engine.db import READ_ONLY
from tests.dbharness import Db


def can_take_write_lock(db: Db) -> bool:
    other = sqlite3.connect(str(make_url(db.url).database), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_read_only_session_leaves_the_write_lock_free(db: Db, read_only: bool) -> None:
    async with db.sessions() as session:
        if read_only:
            await session.connection(execution_options={READ_ONLY: True})
        assert (await session.execute(text("SELECT count(*) FROM merchants"))).scalar_one() == 0
        assert can_take_write_lock(db) is read_only
    assert can_take_write_lock(db)


async def test_the_next_session_on_the_pooled_connection_takes_the_lock_again(db: Db) -> None:
    async with db.sessions() as session:
        await session.connection(execution_options={READ_ONLY: True})
        await session.execute(text("SELECT 1"))
    async with db.sessions() as session:
        await session.execute(text("SELECT 1"))
        assert not can_take_write_lock(db)
