"""Database engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: two deferred transactions
        # that both read and then write would fail with SQLITE_BUSY instead of
        # waiting, across processes. A connection that only reads (READ_ONLY)
        # takes no lock: in WAL mode it sees a snapshot and blocks no writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# Execution option of a connection whose transaction only reads: on SQLite it
# begins without the write lock (install_sqlite_hooks). Writing in it fails
# or waits (SQLITE_BUSY on upgrade), so use it for reads only.
READ_ONLY = "usdtpay_read_only"


# A pooled PostgreSQL connection idle for longer than this is pinged before
# use; one used more recently is not (see install_postgres_hooks).
IDLE_PING_S = 5.0


def install_postgres_hooks(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle.

    SQLAlchemy's pool_pre_ping pings on every checkout, and on asyncpg a
    ping is three round trips (BEGIN, a query, ROLLBACK): more than a
    whole create. Connections are lost while idle (a database restart, an
    idle timeout on the way), so one used within IDLE_PING_S is taken as
    it is; should it still have died, its statement fails with a
    disconnect error and SQLAlchemy discards the pool's older connections.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return  # new (just connected), or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("pooled connection lost while idle") from exc


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        prepare_sqlite_file(url)
        # One connection per process: writers queue on the pool in-process
        # (cheap) and on SQLite's busy timeout across processes.
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)
        install_sqlite_hooks(engine.sync_engine)
        return engine
    # No overflow: a connection beyond pool_size is closed when it is given
    # back while pool_size others sit idle, so a burst of requests would
    # open and close connections (a new one costs more than several creates).
    # Recycled after 30 min, before any server-side lifetime limit.
    engine = create_async_engine(url, echo=echo, pool_size=20, max_overflow=0, pool_recycle=1800)
    install_postgres_hooks(engine.sync_engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def lock_for_transaction(session: AsyncSession, name: str) -> None:
    """Hold a named lock until the session's transaction ends, across
    processes: a count checked and then acted on under it stays true.
    PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of
    `name`. SQLite needs none: every writing transaction starts with BEGIN
    IMMEDIATE (install_sqlite_hooks), so there is only one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
