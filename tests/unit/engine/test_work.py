"""Whole units of work (engine.work) on SQLite and PostgreSQL, and SQLite's
group-commit writer: several units share one transaction, a failing unit
fails only its own caller, nothing is answered before its commit, a crash
mid-batch loses no acknowledged unit, shutdown drains the queue."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from engine.db import create_engine
from engine.errors import Unavailable
from engine.models import Wallet
from engine.orders.queries import insert_order
from engine.work import ConnectionRunner, GroupCommitWriter, create_runner
from tests.dbharness import Db
from tests.factories import tron_address
from tests.paths import ROOT

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WALLETS: Table = Wallet.__table__  # type: ignore[assignment]


def add(conn: Connection, n: int) -> int:
    values = {"chain": "tron", "address": tron_address(n), "enabled": True, "label": "", "created_at": NOW}
    return int(conn.execute(insert(WALLETS).values(values)).inserted_primary_key[0])


async def stored(db: Db) -> set[str]:
    async with db.sessions() as session:
        return set(await session.scalars(select(Wallet.address)))


def writer(db: Db) -> GroupCommitWriter:
    assert isinstance(db.work, GroupCommitWriter), "SQLite files get the group-commit writer"
    return db.work


async def test_the_runner_follows_the_database(tmp_path: Path) -> None:
    file_url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert isinstance(create_runner(file_url, create_engine(file_url)), GroupCommitWriter)
    # A second connection to an in-memory database would see another database.
    memory = "sqlite+aiosqlite:///:memory:"
    assert isinstance(create_runner(memory, create_async_engine(memory)), ConnectionRunner)
    pg = "postgresql+asyncpg://u@h/d"  # no connection is made
    assert isinstance(create_runner(pg, create_engine(pg)), ConnectionRunner)


async def test_commits_what_the_work_returns(any_db: Db) -> None:
    wallet_id = await any_db.work.run(lambda c: add(c, 1))
    async with any_db.sessions() as session:
        wallet = await session.get(Wallet, wallet_id)
    assert wallet is not None and wallet.address == tron_address(1)


async def test_rolls_back_everything_when_the_work_raises(any_db: Db) -> None:
    def half_done(conn: Connection) -> None:
        add(conn, 1)
        add(conn, 2)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        await any_db.work.run(half_done)
    assert await stored(any_db) == set()
    await any_db.work.run(lambda c: add(c, 3))  # usable afterwards
    assert await stored(any_db) == {tron_address(3)}


async def test_waiting_units_share_one_commit(db: Db) -> None:
    before = writer(db).batches
    await asyncio.gather(*(db.work.run(lambda c, n=n: add(c, n)) for n in range(10)))
    assert writer(db).batches == before + 1
    assert await stored(db) == {tron_address(n) for n in range(10)}


async def test_a_failing_unit_fails_only_its_own_caller(db: Db) -> None:
    await db.work.run(lambda c: add(c, 1))

    def partly_then_duplicate(conn: Connection) -> None:
        add(conn, 50)  # undone with the rest of this unit
        add(conn, 1)  # (chain, address) is unique: IntegrityError

    before = writer(db).batches
    results = await asyncio.gather(
        db.work.run(lambda c: add(c, 2)),
        db.work.run(partly_then_duplicate),
        db.work.run(lambda c: add(c, 3)),
        return_exceptions=True,
    )
    assert writer(db).batches == before + 1
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert "UNIQUE constraint failed" in str(results[1])
    assert await stored(db) == {tron_address(n) for n in (1, 2, 3)}


async def test_no_caller_of_a_batch_is_answered_when_its_commit_fails(db: Db) -> None:
    def orphan(conn: Connection) -> None:
        # Foreign keys checked at COMMIT: the statement passes, the commit fails.
        conn.execute(text("PRAGMA defer_foreign_keys = ON"))
        row = {"id": 1, "merchant_id": 999, "merchant_order_no": "x", "face": "usdt", "currency": "USDT"}
        insert_order(conn, {**row, "created_at": NOW, "expires_at": NOW})

    results = await asyncio.gather(
        db.work.run(lambda c: add(c, 1)), db.work.run(orphan), db.work.run(lambda c: add(c, 2)),
        return_exceptions=True,
    )  # fmt: skip
    assert all(isinstance(r, Exception) and "FOREIGN KEY" in str(r) for r in results), results
    assert await stored(db) == set()
    await db.work.run(lambda c: add(c, 3))  # the writer goes on
    assert await stored(db) == {tron_address(3)}


CRASHING_WRITER = """
import asyncio, os, sys
from tests.unit.engine.test_work import add
from engine.work import GroupCommitWriter

async def main(url):
    writer = GroupCommitWriter(url)

    async def unit(n):
        def work(conn):
            add(conn, n)
            if n == 15:
                os._exit(3)  # the process dies mid-batch, before COMMIT
            return n
        print(await writer.run(work), flush=True)  # acknowledged

    await asyncio.gather(*(unit(n) for n in range(10)))
    await asyncio.gather(*(unit(n) for n in range(10, 20)))

asyncio.run(main(sys.argv[1]))
"""


async def test_a_crash_mid_batch_loses_no_acknowledged_unit(db: Db) -> None:
    await db.work.close()  # the child process is the writer
    child = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", CRASHING_WRITER, db.url], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert child.returncode == 3, child.stderr
    acknowledged = {int(line) for line in child.stdout.split()}
    assert acknowledged == set(range(10))
    # Units 10..14 ran in the crashed batch but were never answered: not stored either.
    assert await stored(db) == {tron_address(n) for n in acknowledged}


async def test_shutdown_drains_the_queue(db: Db) -> None:
    pending = [asyncio.ensure_future(db.work.run(lambda c, n=n: add(c, n))) for n in range(20)]
    await asyncio.sleep(0)  # they are queued
    await db.work.close()
    assert all(task.done() and task.exception() is None for task in pending)
    assert await stored(db) == {tron_address(n) for n in range(20)}
    with pytest.raises(Unavailable, match="shutting down"):
        await db.work.run(lambda c: add(c, 99))


async def test_checkpoints_run_on_their_own_thread(db: Db) -> None:
    checkpoints = writer(db)._checkpoints
    checkpoints.every_s = 0.0
    await asyncio.gather(*(db.work.run(lambda c, n=n: add(c, n)) for n in range(5)))
    assert checkpoints._running is not None
    await asyncio.wrap_future(checkpoints._running)
    assert checkpoints._conn is not None  # its connection, opened on its thread
    assert await stored(db) == {tron_address(n) for n in range(5)}


async def test_sqlite_unit_waits_for_another_writer_instead_of_failing(db: Db) -> None:
    async with db.sessions() as holder:
        # The async engine's transaction starts with BEGIN IMMEDIATE: the
        # write lock is held until it commits.
        holder.add(Wallet(chain="tron", address=tron_address(1), enabled=True, created_at=NOW))
        await holder.flush()
        pending = asyncio.ensure_future(db.work.run(lambda c: add(c, 2)))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await holder.commit()
    await asyncio.wait_for(pending, 10)
    assert await stored(db) == {tron_address(1), tron_address(2)}


async def test_writer_connection_settings(db: Db) -> None:
    def pragmas(conn: Connection) -> tuple[object, ...]:
        names = ("journal_mode", "foreign_keys", "wal_autocheckpoint")
        return tuple(conn.execute(text(f"PRAGMA {name}")).scalar() for name in names)

    # No checkpoint inside the writer's commits (on the event loop): its own thread does them.
    assert await db.work.run(pragmas) == ("wal", 1, 0)
    async with db.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Wallet))
    assert count == 0


def addresses(conn: Connection) -> set[str]:
    return set(conn.execute(select(WALLETS.c.address)).scalars())


async def test_reads_see_what_is_committed(any_db: Db) -> None:
    await any_db.work.run(lambda c: add(c, 1))
    assert await any_db.work.read(addresses) == {tron_address(1)}


async def test_sqlite_reads_do_not_wait_for_the_write_lock(db: Db) -> None:
    await db.work.run(lambda c: add(c, 1))
    async with db.sessions() as holder:
        holder.add(Wallet(chain="tron", address=tron_address(2), enabled=True, created_at=NOW))
        await holder.flush()  # BEGIN IMMEDIATE: the write lock is held, the row not committed
        seen = await asyncio.wait_for(db.work.read(addresses), 5)
        await holder.commit()
    assert seen == {tron_address(1)}
    assert await db.work.read(addresses) == {tron_address(1), tron_address(2)}


async def test_sqlite_reads_cannot_write(db: Db) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        await db.work.read(lambda c: add(c, 1))
    assert await stored(db) == set()


async def test_a_large_wal_file_is_emptied_once_writes_pause(db: Db) -> None:
    """A burst leaves the WAL file at its peak; once writes pause for
    `idle_s`, a file over `truncate_bytes` is emptied (and a smaller one
    is left as it is), and writing goes on."""
    checkpoints = writer(db)._checkpoints
    checkpoints.every_s = 1e9  # no PASSIVE ones: the log only grows
    checkpoints.truncate_bytes = 2**40
    wal = Path(checkpoints._path + "-wal")
    for batch in range(20):
        await asyncio.gather(
            *(db.work.run(lambda c, n=n: add(c, n)) for n in range(batch * 50, batch * 50 + 50))
        )
    size = wal.stat().st_size
    assert size > 64 * 1024

    async def idle_ticks() -> None:
        # Ticks every 20 ms from now, until the checkpointer has looked at the file.
        checkpoints.idle_s = 0.02
        writer(db)._tick_when_idle(asyncio.get_running_loop())
        for _ in range(250):
            await asyncio.sleep(0.02)
            if not checkpoints._written and not checkpoints._busy():
                return
        raise AssertionError("the idle checkpoint never ran")

    await idle_ticks()
    assert wal.stat().st_size == size  # under truncate_bytes: left alone
    checkpoints.truncate_bytes = 64 * 1024
    await db.work.run(lambda c: add(c, 9999))
    await idle_ticks()
    assert wal.exists() and wal.stat().st_size == 0
    await db.work.run(lambda c: add(c, 10_000))
    assert len(await stored(db)) == 20 * 50 + 2


async def test_a_long_wal_is_started_over(db: Db) -> None:
    """Under writes that never pause, a PASSIVE checkpoint never lets the
    log start over (new frames arrive while it copies: the WAL file grew
    to 750 MB in a minute of creates). Once the log holds
    `restart_bytes`, the checkpoint after the PASSIVE one is a RESTART,
    and the next write starts the log from its first frame."""
    checkpoints = writer(db)._checkpoints
    checkpoints.every_s = 1e9  # none on their own: this test runs them
    checkpoints.restart_bytes = 64 * 1024
    sent: list[str] = []

    class Recording:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, sql: str) -> sqlite3.Cursor:
            sent.append(sql)
            return self._conn.execute(sql)

    checkpoints._conn = Recording(sqlite3.connect(checkpoints._path, check_same_thread=False))  # type: ignore[assignment]
    await asyncio.gather(*(db.work.run(lambda c, n=n: add(c, n)) for n in range(5)))
    checkpoints._checkpoint()
    assert sent == ["PRAGMA wal_checkpoint(PASSIVE)"]  # a short log: left as it is
    for batch in range(1, 20):
        await asyncio.gather(
            *(db.work.run(lambda c, n=n: add(c, n)) for n in range(batch * 50, batch * 50 + 50))
        )
    [(_, frames, _)] = checkpoints._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    assert frames * 4096 > checkpoints.restart_bytes
    del sent[:]
    checkpoints._checkpoint()
    assert sent == ["PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(RESTART)"]
    await db.work.run(lambda c: add(c, 9999))
    [(_, after, _)] = checkpoints._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    assert 0 < after < 20  # the log started over
    assert len(await stored(db)) == 5 + 19 * 50 + 1
