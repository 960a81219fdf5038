"""PostgreSQL group commit: items that arrive together share one transaction.

Why: a create on PostgreSQL is one statement, and what it costs is mostly
around the statement: a pool checkout, a round trip, a commit with its WAL
flush, on both sides. Items that arrive while a batch runs wait; the next
batch takes them all (up to `max_items`) and hands them to `run_batch` on
a connection of the pool that the Batcher keeps between batches.

`run_batch` answers each item, and what it answers must be durable when it
returns. engine.orders.pg_create's sends pipelined `fetchmany`s: asyncpg
sends every statement's Bind/Execute and then one Sync, and PostgreSQL runs
the messages up to a Sync as one implicit transaction, committed (WAL
flushed) before it answers the Sync. So a pass costs one round trip and one
commit, with no BEGIN nor COMMIT. When `run_batch` raises, every item gets
the error, though a pass it had finished stays committed: its callers must
be able to find out (pg_create's run again alone, and a repeated order
number then finds the stored order).

Two batches run at a time per Batcher, each on its own connection: with
one, the process sat idle while PostgreSQL ran the batch. Two batches can
wait on each other's uncommitted rows, so `run_batch` must keep them
apart (pg_create has the second try other slots than the first); a wait
left over, in a cycle, is a deadlock that PostgreSQL breaks after its
deadlock_timeout by failing one. A batch that fails (a constraint, a
deadlock, a lost connection) fails every item with that error; the caller
decides what to do (pg_create runs the item again on its own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("usdtpay.work")
P = TypeVar("P")
R = TypeVar("R")
# How long a batch connection is kept out of the pool between batches.
KEEP_S = 60.0
# (driver connection inside the transaction, the items) -> one result per item
RunBatch = Callable[[Any, Sequence[P]], Awaitable[Sequence[R]]]


class Batcher(Generic[P, R]):
    def __init__(
        self, engine: AsyncEngine, run_batch: RunBatch[P, R], *, max_items: int = 64, max_running: int = 2
    ) -> None:
        self._engine = engine
        self._run_batch = run_batch
        self._max_items = max_items
        self._max_running = max_running
        self._waiting: list[tuple[P, asyncio.Future[R]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._idle: list[_Kept] = []

    async def submit(self, item: P) -> R:
        """The item's result once its batch has committed; the batch's error otherwise."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._running) < self._max_running:
            task = asyncio.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_items]
            del self._waiting[: self._max_items]
            await self._run(batch)

    async def _run(self, batch: list[tuple[P, asyncio.Future[R]]]) -> None:
        try:
            kept = await self._connection()
            usable = False  # cancelled half-way through a message, it is not
            try:
                results = await self._run_batch(kept.driver, [item for item, _ in batch])
                usable = True
            except Exception as exc:
                usable = not connection_lost(exc, kept.driver)
                raise
            finally:
                await self._give_back(kept, usable)
        except Exception as exc:  # every caller gets the batch's error, and decides
            log.warning(
                "a batch of %d failed (%s); each caller decides what next", len(batch), type(exc).__name__
            )
            _fail(batch, exc)
            return
        if len(results) != len(batch):  # a bug in run_batch: its callers must not hang
            _fail(batch, RuntimeError(f"a batch of {len(batch)} gave {len(results)} results"))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(result)

    async def _connection(self) -> _Kept:
        """A connection kept from an earlier batch, else one from the pool.
        Why kept: a pool checkout and return cost the server about 8 % of a
        create's CPU. A kept one goes back to the pool after KEEP_S, so the
        pool's recycling still reaches it."""
        while self._idle:
            kept = self._idle.pop()
            if time.monotonic() - kept.since < KEEP_S:
                return kept
            await kept.conn.close()
        conn = await self._engine.connect()
        try:
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        assert raw.driver_connection is not None
        return _Kept(conn, raw.driver_connection, time.monotonic())

    async def _give_back(self, kept: _Kept, usable: bool) -> None:
        if usable:
            self._idle.append(kept)
            return
        await kept.conn.invalidate()  # the pool must not lend it again
        await kept.conn.close()

    async def close(self) -> None:
        """Wait for the batches already submitted, then give the kept
        connections back to the pool."""
        while self._running:
            await asyncio.shield(asyncio.gather(*self._running))
        while self._idle:
            await self._idle.pop().conn.close()


class _Kept(NamedTuple):
    conn: AsyncConnection
    driver: Any  # the asyncpg connection
    since: float


def connection_lost(error: Exception, driver: Any) -> bool:
    """Whether `error` on asyncpg connection `driver` left it unusable: lost,
    timed out or half-way through a message. A server error leaves it
    usable, unless it was the server ending the session (a terminated
    backend answers with a FATAL error and closes it)."""
    import asyncpg  # here: engine.work imports this module, and commands on SQLite never need it

    return not isinstance(error, asyncpg.PostgresError) or driver.is_closed()


def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


class Batches:
    """One Batcher per kind of item (its `run_batch`), on one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._batchers: dict[RunBatch[Any, Any], Batcher[Any, Any]] = {}

    async def submit(self, run_batch: RunBatch[P, R], item: P) -> R:
        batcher = self._batchers.get(run_batch)
        if batcher is None:
            batcher = self._batchers[run_batch] = Batcher(self._engine, run_batch)
        return cast(R, await batcher.submit(item))

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.close()
