"""Safe retries of create_order_committed (optimistic: no read before the
insert), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.amounts import AmountsExhausted
from engine.config import OrderSettings
from engine.errors import Conflict, Unavailable
from engine.models import Merchant, Order, Reservation
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order_committed
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fixed(_: object) -> Decimal:
    return Decimal("7.20")


def no_rate(_: object) -> Decimal:
    raise Unavailable("the CNY/USDT rate is 900 s old")


def order(no: str, fen: int = 10_000) -> NewOrder:
    return NewOrder(face="usdt", merchant_order_no=no, currency=Currency.CNY, amount_units=fen, chain="tron")


async def create(
    db: Db, merchant: Merchant, new: NewOrder, *, slots: int = 9999, rate: object = fixed
) -> tuple[Order, bool]:
    return await create_order_committed(
        db.work,
        merchant,
        new,
        settings=OrderSettings(offset_slots=slots),
        rate_lookup=rate,
        now=NOW,  # type: ignore[arg-type]
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
    again, created = await create(any_db, merchant, order("A"), rate=no_rate)
    assert not created and again.id == first.id
    with pytest.raises(Unavailable, match="900 s old"):
        await create(any_db, merchant, order("B"), rate=no_rate)
    assert await counts(any_db) == (1, 1)
