"""Safe retries of create_order (optimistic: no read before the insert), on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.amounts import AmountsExhausted
from engine.clock import ManualClock
from engine.config import OrderSettings, Settings
from engine.errors import Conflict, Unavailable
from engine.models import Merchant, Order, RateSnapshot, Reservation
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


FIXED = Settings(rate_fixed=Decimal("7.20"))


async def stale_rate(db: Db) -> Settings:
    """Settings whose rate comes from the database, where the newest is 900 s old."""
    async with db.sessions() as session:
        session.add(
            RateSnapshot(rate="7.20", median="7.20", sources={}, fetched_at=NOW - timedelta(seconds=900))
        )
        await session.commit()
    return Settings()


def order(no: str, fen: int = 10_000) -> NewOrder:
    return NewOrder(face="usdt", merchant_order_no=no, currency=Currency.CNY, amount_units=fen, chain="tron")


async def create(
    db: Db, merchant: Merchant, new: NewOrder, *, slots: int = 9999, settings: Settings = FIXED
) -> tuple[Order, bool]:
    return await create_order(
        db.work,
        merchant,
        new,
        settings=settings,
        orders=OrderSettings(offset_slots=slots),
        clock=ManualClock(NOW),
    )


async def counts(db: Db) -> tuple[int, int]:
    async with db.sessions() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        holds = await session.scalar(select(func.count()).select_from(Reservation))
    return int(orders or 0), int(holds or 0)


async def test_repeat_returns_the_original_and_reserves_nothing_more(any_db: Db) -> None:
    merchant = await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    first, created = await create(any_db, merchant, order("A"))
    again, created_again = await create(any_db, merchant, order("A"))
    assert created and not created_again
    assert (again.id, again.usdt_units, again.address) == (first.id, first.usdt_units, first.address)
    assert await counts(any_db) == (1, 1)


async def test_repeat_with_other_parameters_is_a_conflict(any_db: Db) -> None:
    merchant = await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    await create(any_db, merchant, order("A"))
    with pytest.raises(Conflict, match="already exists with different parameters"):
        await create(any_db, merchant, order("A", fen=20_000))
    assert await counts(any_db) == (1, 1)


async def test_repeat_when_amounts_are_exhausted_still_returns_the_original(any_db: Db) -> None:
    merchant = await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    first, _ = await create(any_db, merchant, order("A"), slots=1)
    with pytest.raises(AmountsExhausted):
        await create(any_db, merchant, order("B"), slots=1)
    again, created = await create(any_db, merchant, order("A"), slots=1)
    assert not created and again.id == first.id


async def test_repeat_when_the_rate_is_stale_still_returns_the_original(any_db: Db) -> None:
    merchant = await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    first, _ = await create(any_db, merchant, order("A"))
    stale = await stale_rate(any_db)
    again, created = await create(any_db, merchant, order("A"), settings=stale)
    assert not created and again.id == first.id
    with pytest.raises(Unavailable, match="900 s old"):
        await create(any_db, merchant, order("B"), settings=stale)
    assert await counts(any_db) == (1, 1)
