"""MerchantCache: fewer reads (one for all the requests an expiry catches),
but a new merchant and a changed key count at once."""

from __future__ import annotations

import asyncio

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


async def test_an_expired_entry_is_read_once_for_the_requests_waiting_for_it(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = MerchantCache(ttl_s=0)  # every get finds the entry expired
    reads = []
    original = queries.get_merchant

    async def counted(session: AsyncSession, pid: str, **options: bool) -> Merchant | None:
        reads.append(pid)
        return await original(session, pid, **options)

    monkeypatch.setattr(queries, "get_merchant", counted)
    missing = await asyncio.gather(*(cache.get(db.sessions, "10001") for _ in range(5)))
    assert missing == [None] * 5 and len(reads) == 5  # a miss is never shared
    await make_merchant(db)
    reads.clear()
    found = await asyncio.gather(*(cache.get(db.sessions, "10001") for _ in range(20)))
    assert all(m is not None and m is found[0] for m in found) and len(reads) == 1
    reads.clear()
    await asyncio.gather(*(cache.get(db.sessions, "10001", fresh=True) for _ in range(3)))
    assert len(reads) == 3  # a reload after a failed signature reads for itself
