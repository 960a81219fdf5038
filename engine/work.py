"""Units of work written once as plain functions of a sync `Session`, run
whole: one call commits on success and rolls back on error.

Why: on SQLite the async driver hops to its connection thread and back for
every statement, cursor and commit (about fifteen hops for one order), and
the single write connection stays held for all of them. Running the whole
unit in one call on a dedicated thread with its own connection makes it one
hop. On PostgreSQL the same function runs through `AsyncSession.run_sync`
over the pooled async engine, where a round trip does not block other
requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.db import SessionFactory, install_sqlite_hooks, is_sqlite, prepare_sqlite_file, unit_of_work

T = TypeVar("T")


class WorkRunner(Protocol):
    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a fresh session; commit if it returns, roll back if it raises."""

    async def close(self) -> None: ...


class AsyncSessionRunner:
    """PostgreSQL (and tests that hold an async engine only)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def run(self, work: Callable[[Session], T]) -> T:
        async with unit_of_work(self._sessions) as session:
            return await session.run_sync(work)

    async def close(self) -> None:
        return None


class SqliteThreadRunner:
    """One thread, one sync SQLite connection, whole units of work.

    The connection is a second writer next to the async engine's; SQLite
    serialises the two (BEGIN IMMEDIATE and the busy timeout), as it does
    for writers in other processes.
    """

    def __init__(self, url: str) -> None:
        prepare_sqlite_file(url)
        sync_url = make_url(url).set(drivername="sqlite")
        self._engine = create_sync_engine(sync_url, pool_size=1, max_overflow=0)
        install_sqlite_hooks(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-unit")

    def _run_here(self, work: Callable[[Session], T]) -> T:
        # begin(): commits when the block ends normally, rolls back on error.
        with self._sessions.begin() as session:
            return work(session)

    async def run(self, work: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run_here, work)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        # Dispose on the thread that owns the connection.
        await loop.run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)


def create_runner(url: str, sessions: SessionFactory) -> WorkRunner:
    # An in-memory database is private to its connection: a second one
    # would see another, empty database.
    if is_sqlite(url) and make_url(url).database not in (None, "", ":memory:"):
        return SqliteThreadRunner(url)
    return AsyncSessionRunner(sessions)
