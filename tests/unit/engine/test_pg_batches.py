"""PostgreSQL group commit (engine.pg_batches): items that arrive while
batches run share the next one; at most two batches run at once, each on
its own connection, kept between batches; close() waits for every batch
already submitted and gives the connections back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from engine.pg_batches import Batcher
from tests.dbharness import Db

pytestmark = pytest.mark.postgres


async def test_two_batches_run_at_once_on_their_own_connections_and_close_waits_for_both(pg_db: Db) -> None:
    running, most, sessions, sizes = 0, 0, set(), []

    async def run_batch(driver: Any, items: Sequence[int]) -> list[int]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        sessions.add(await driver.fetchval("SELECT pg_backend_pid()"))
        sizes.append(len(items))
        await asyncio.sleep(0.05)
        running -= 1
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(pg_db.engine, run_batch)
    first = [asyncio.create_task(batcher.submit(n)) for n in range(3)]
    await asyncio.sleep(0.01)  # the first batch (all three) is running
    second = [asyncio.create_task(batcher.submit(n)) for n in range(3, 5)]
    await asyncio.sleep(0.01)  # the second batch runs beside it
    third = [asyncio.create_task(batcher.submit(n)) for n in range(5, 9)]
    await asyncio.sleep(0)
    await batcher.close()
    assert all(task.done() for task in first + second + third)  # close waited for every batch
    assert [task.result() for task in first + second + third] == [n * 10 for n in range(9)]
    assert most == 2 and len(sessions) == 2
    assert sizes == [3, 2, 4]  # the third waited for a free run and took everything waiting


async def test_a_failing_batch_fails_only_its_own_items(pg_db: Db) -> None:
    async def run_batch(driver: Any, items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad item in the batch")
        return list(items)

    batcher: Batcher[int, int] = Batcher(pg_db.engine, run_batch)
    bad = asyncio.gather(batcher.submit(13), batcher.submit(1), return_exceptions=True)
    assert [type(r) for r in await bad] == [ValueError, ValueError]
    assert await batcher.submit(2) == 2  # the next batch is not affected
    await batcher.close()


async def test_a_batch_connection_is_kept_between_batches_and_given_back_on_close(pg_db: Db) -> None:
    """A pool checkout per batch cost the server about 8 % of a create:
    the connection stays with the Batcher, and goes back on close."""
    sessions = []

    async def run_batch(driver: Any, items: Sequence[int]) -> list[int]:
        sessions.append(await driver.fetchval("SELECT pg_backend_pid()"))
        return list(items)

    batcher: Batcher[int, int] = Batcher(pg_db.engine, run_batch)
    before = pg_db.engine.pool.checkedout()  # type: ignore[attr-defined]
    assert [await batcher.submit(n) for n in range(3)] == [0, 1, 2]
    assert len(set(sessions)) == 1
    assert pg_db.engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
    await batcher.close()
    assert pg_db.engine.pool.checkedout() == before  # type: ignore[attr-defined]
