"""Units of work written once as plain functions of a sync `Connection`
(Core statements, no ORM session), run whole: the unit's statements all
take effect or none do, and its caller is answered once they are durable.

SQLite (a file): `GroupCommitWriter`, one writer connection used from the
event loop thread. Units that arrive while it works wait in a queue; the
next batch runs them all in ONE transaction, each inside its own savepoint
(a unit that raises rolls back to its savepoint and fails only its own
caller), then commits once and answers every caller of the batch. Nothing
is answered before that COMMIT returns, so a crash mid-batch loses only
units whose callers were never answered. Why on the loop thread: every
statement is a short local call (WAL, no fsync per commit with
synchronous=NORMAL); a thread per unit costs more in hand-offs and GIL
switches than the statements themselves. The writer never waits for
SQLite's lock on the loop: BEGIN IMMEDIATE fails at once when another
connection (this process's async engine, another process) holds it, and
the writer retries after a short asyncio sleep.

PostgreSQL, and in-memory SQLite (private to one connection): each unit in
its own transaction on the async engine (in one greenlet, on its sync
engine), where a round trip does not block the loop; on PostgreSQL creates
also share transactions (engine.pg_batches).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from engine.db import SessionFactory, is_sqlite, prepare_sqlite_file
from engine.errors import Unavailable
from engine.pg_batches import Batches
from engine.sqlite_checkpoints import Checkpointer

log = logging.getLogger("usdtpay.work")
T = TypeVar("T")
V = TypeVar("V")
Work = Callable[[Connection], T]


class ReadCache:
    """Reads that units may serve from memory for a short while (the
    latest rate): one value per key, kept `ttl_s` seconds, per runner, so
    per database. A caller that finds the value unusable (a stale rate)
    asks again with `fresh=True`."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, ttl_s: float, load: Callable[[], V], *, fresh: bool = False) -> V:
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and not fresh and now - hit[0] < ttl_s:
            return cast(V, hit[1])
        value = load()
        if value is None:  # misses are not kept: the first value counts at once
            self._values.pop(key, None)
        else:
            self._values[key] = (now, value)
        return value

    def forget(self, key: str) -> None:
        self._values.pop(key, None)


class WorkRunner(Protocol):
    cache: ReadCache

    async def run(self, work: Work[T]) -> T:
        """Run `work` whole; its statements are durable when this returns,
        and none of them are when it raises."""

    async def read(self, work: Work[T]) -> T:
        """Run a unit that only reads, without waiting for or taking the
        write lock (its statements see committed data)."""

    async def close(self) -> None:
        """Finish every unit already submitted, then release the database."""


class ConnectionRunner:
    """One transaction per unit on the async engine (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.cache = ReadCache()
        # Items of one kind (the creates) that share a transaction.
        self.batches = Batches(engine) if engine.dialect.name == "postgresql" else None

    async def run(self, work: Work[T]) -> T:
        # The whole unit in one greenlet on the async engine's own sync
        # engine (AsyncConnection would take three: connect, run_sync,
        # commit and close). asyncpg's BEGIN waits for SQLAlchemy's first
        # statement: a unit whose statements all run on the driver
        # connection itself (engine.orders.pg_create) sends neither BEGIN
        # nor COMMIT, each of its statements committing on its own.
        return await greenlet_spawn(self._run_in_transaction, work)

    def _run_in_transaction(self, work: Work[T]) -> T:
        with self._engine.sync_engine.begin() as conn:
            return work(conn)

    async def read(self, work: Work[T]) -> T:
        async with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # no BEGIN and ROLLBACK round trips around a read
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.run_sync(work)

    async def close(self) -> None:
        if self.batches is not None:
            await self.batches.close()


class _Unit:
    __slots__ = ("future", "work")

    def __init__(self, work: Work[Any], future: asyncio.Future[Any]) -> None:
        self.work = work
        self.future = future


class GroupCommitWriter:
    """SQLite's single writer: batches of units, one commit per batch."""

    max_batch = 128
    lock_wait_s = 30.0  # as the async engine's busy_timeout

    def __init__(self, url: str) -> None:
        prepare_sqlite_file(url)
        sync_url = make_url(url).set(drivername="sqlite")
        # The connection is used on the event loop thread only (but made there
        # lazily, and disposed of from wherever close() runs).
        self._engine = create_sync_engine(
            sync_url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False}
        )
        _install_writer_hooks(self._engine)
        # Reads: a second connection in autocommit (no BEGIN, so no lock and
        # nothing to wait for in WAL mode), also used on the loop thread.
        self._read_engine = create_sync_engine(
            sync_url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False}
        )
        _install_reader_hooks(self._read_engine)
        self._read_conn: Connection | None = None
        self._checkpoints = Checkpointer(str(make_url(url).database))
        self._conn: Connection | None = None
        self._queue: list[_Unit] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closing = False
        self.cache = ReadCache()
        self.batches = 0  # batches committed, and the units in them (tests, benchmarks)
        self.units = 0

    async def run(self, work: Work[T]) -> T:
        if self._closing:
            raise Unavailable("the server is shutting down; retry the request")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Unit(work, future))
        if self._task is None or self._task.get_loop() is not loop:
            # The first unit on this loop (a test may use several loops in turn).
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._drain_forever(), name="sqlite-group-commit")
            self._tick_when_idle(loop)
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def read(self, work: Work[T]) -> T:
        if self._closing:
            raise Unavailable("the server is shutting down; retry the request")
        delay, deadline = 0.0005, time.monotonic() + self.lock_wait_s
        while True:
            if self._read_conn is None:
                self._read_conn = self._read_engine.connect()
            try:
                try:
                    return work(self._read_conn)
                finally:
                    self._read_conn.rollback()  # ends SQLAlchemy's transaction; nothing was begun in SQLite
            except OperationalError as exc:  # a WAL being recovered or reset: rare, short
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)

    def _tick_when_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every `idle_s`, on the loop: the checkpointer empties a large WAL
        file once writes have paused (a timer, so creates pay nothing)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = None
        if self._closing or loop.is_closed():
            return
        self._checkpoints.maybe_truncate()
        self._idle_timer = loop.call_later(self._checkpoints.idle_s, self._tick_when_idle, loop)

    async def close(self) -> None:
        """Refuse new units, finish the queued ones, release the connection."""
        self._closing = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        task, wakeup = self._task, self._wakeup
        if task is not None and wakeup is not None and task.get_loop() is asyncio.get_running_loop():
            wakeup.set()
            await task
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None
        self._read_engine.dispose()
        self._checkpoints.close()

    async def _drain_forever(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            # One more turn of the loop first: handlers already resumed in it
            # queue their units too. A batch costs ~0.4 ms besides its units
            # (BEGIN, the COMMIT's WAL writes); with 16 connections on a
            # quiet core batches grew from 6 to 16 at the median.
            if len(self._queue) < self.max_batch and not self._closing:
                await asyncio.sleep(0)
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._run_batch([u for u in batch if not u.future.cancelled()])
            if self._closing:
                return

    async def _run_batch(self, batch: list[_Unit]) -> None:
        if not batch:
            return
        try:
            conn = await self._begin()
        except Exception as exc:
            _answer_all(batch, exc)
            return
        try:
            outcomes = [_in_savepoint(conn, unit.work) for unit in batch]
            conn.commit()
        except Exception as exc:
            # Nothing of this batch is durable: every caller hears so.
            self._discard(conn)
            _answer_all(batch, exc)
            return
        self.batches += 1
        self.units += len(batch)
        self._checkpoints.maybe_start()
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            if unit.future.done():
                continue
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)

    def _discard(self, conn: Connection) -> None:
        """Roll back; a connection that cannot is dropped (the next batch
        opens a new one)."""
        try:
            conn.rollback()
            raw = conn.connection.driver_connection
            # After a failed COMMIT SQLAlchemy may consider the transaction
            # over while SQLite still holds it (and the write lock).
            if raw is not None and raw.in_transaction:
                raw.rollback()
        except Exception:
            conn.invalidate()
            conn.close()
            self._conn = None

    async def _begin(self) -> Connection:
        """BEGIN IMMEDIATE, waiting asynchronously while another connection
        holds the write lock. Tried again every 2 ms at most: every create
        waits out the lock and then the rest of the sleep (a 20 ms cap made
        a 10-20 ms WAL restart cost the writer 18-36 ms), and a failed
        BEGIN costs about 10 µs."""
        if self._conn is None:
            self._conn = self._engine.connect()
        delay, deadline = 0.0005, time.monotonic() + self.lock_wait_s
        while True:
            try:
                self._conn.begin()
                return self._conn
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.002)


def _in_savepoint(conn: Connection, work: Work[Any]) -> tuple[bool, Any]:
    """Run one unit inside the batch's transaction; if it raises, undo its
    statements only. Savepoints go to the driver directly: SQLAlchemy's
    nested transactions cost a hundred times more than SQLite's."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("SAVEPOINT unit")
    try:
        value = work(conn)
    except Exception as exc:
        raw.execute("ROLLBACK TO unit")
        raw.execute("RELEASE unit")
        return False, exc
    raw.execute("RELEASE unit")
    return True, value


def _answer_all(batch: list[_Unit], exc: BaseException) -> None:
    for unit in batch:
        if not unit.future.done():
            unit.future.set_exception(exc)


def _install_writer_hooks(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours
        # No automatic checkpoint inside this connection's COMMITs: engine.sqlite_checkpoints does it.
        pragmas = (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=0",
            "wal_autocheckpoint=0",
        )
        for pragma in pragmas:
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _install_reader_hooks(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: each statement its own snapshot
        for pragma in ("journal_mode=WAL", "busy_timeout=0", "query_only=ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")


def create_runner(url: str, sessions: SessionFactory | AsyncEngine) -> WorkRunner:
    """The runner for `url`; `sessions` (or its engine) serves PostgreSQL."""
    # An in-memory database is private to its connection: a second one
    # would see another, empty database.
    if is_sqlite(url) and make_url(url).database not in (None, "", ":memory:"):
        return GroupCommitWriter(url)
    engine = sessions if isinstance(sessions, AsyncEngine) else sessions.kw["bind"]
    return ConnectionRunner(engine)
