"""MerchantCache: fewer reads (one for all the requests an expiry catches),
but a new merchant and a changed key count at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.merchants import MerchantCache, queries
from engine.models import Merchant
from tests.dbharness import Db
from tests.factories import make_merchant


async def test_hits_within_ttl_and_misses_are_not_cached(db: Db) -> None:
    cache = MerchantCache(ttl_s=60)
    assert await cache.get(db.sessions, "10001") is None
    await make_merchant(db)  # created after a miss: seen at once
    first = await cache.get(db.sessions, "10001")
    assert first is not None
    async with db.sessions() as session:
        await session.execute(update(Merchant).values(key="rotated-key-0123456789"))
        await session.commit()
    assert (await cache.get(db.sessions, "10001")) is first  # served from the cache
    fresh = await cache.get(db.sessions, "10001", fresh=True)
    assert fresh is not None and fresh.key == "rotated-key-0123456789"


async def test_entries_expire(db: Db) -> None:
    cache = MerchantCache(ttl_s=0)
    await make_merchant(db)
    assert await cache.get(db.sessions, "10001") is not None
    async with db.sessions() as session:
        await session.execute(delete(Merchant))
        await session.commit()
    assert await cache.get(db.sessions, "10001") is None


class CountingSessions:
    """The session factory, counting the sessions opened (one per read)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.db.sessions()


async def test_concurrent_misses_share_one_read(db: Db) -> None:
    await make_merchant(db)
    cache, sessions = MerchantCache(ttl_s=60), CountingSessions(db)
    found = await asyncio.gather(*(cache.get(cast(Any, sessions), "10001") for _ in range(16)))
    assert sessions.opened == 1
    assert all(m is found[0] and m is not None for m in found)


async def test_an_entry_past_half_its_life_is_read_again_in_the_background(db: Db) -> None:
    await make_merchant(db)
    cache, sessions = MerchantCache(ttl_s=60), CountingSessions(db)
    first = await cache.get(cast(Any, sessions), "10001")
    async with db.sessions() as session:
        await session.execute(update(Merchant).values(key="rotated-key-0123456789"))
        await session.commit()
    cache._entries["10001"] = (time.monotonic() - 31, cache._entries["10001"][1])  # aged past 30 s
    assert await cache.get(cast(Any, sessions), "10001") is first  # served at once, not waited for
    assert await cache.get(cast(Any, sessions), "10001") is first  # one background read only
    await asyncio.sleep(0.2)
    await asyncio.gather(*cache._loading.values())
    assert sessions.opened == 2
    fresh = await cache.get(cast(Any, sessions), "10001")
    assert fresh is not None and fresh.key == "rotated-key-0123456789"
    assert sessions.opened == 2


async def test_forget_during_a_read_keeps_its_result_out_of_the_cache(db: Db) -> None:
    await make_merchant(db)
    cache = MerchantCache(ttl_s=60)
    reading = asyncio.ensure_future(cache.get(db.sessions, "10001"))
    await asyncio.sleep(0)  # the read is asked for
    cache.forget("10001")
    assert await reading is not None
    assert "10001" not in cache._entries


async def test_a_reload_after_a_failed_signature_reads_for_itself(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fresh=True must see what was committed before the call: no shared read."""
    cache = MerchantCache(ttl_s=60)
    reads: list[str] = []
    original = queries.get_merchant

    async def counted(session: AsyncSession, pid: str, **options: bool) -> Merchant | None:
        reads.append(pid)
        return await original(session, pid, **options)

    await make_merchant(db)
    monkeypatch.setattr(queries, "get_merchant", counted)
    await asyncio.gather(*(cache.get(db.sessions, "10001", fresh=True) for _ in range(3)))
    assert len(reads) == 3
