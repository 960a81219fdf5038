"""MerchantCache: fewer reads, but a new merchant and a changed key count at once."""

from __future__ import annotations

from sqlalchemy import delete, update

from engine.merchants import MerchantCache
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
