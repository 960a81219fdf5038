"""Cursors (invariant 4), expiry, and two settlers racing for one transfer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.chain import Heads
from engine.models import Order, Transfer
from engine.settlement import (
    CursorMoved,
    Settle,
    advance_cursor,
    expire_due,
    get_cursor,
    ingest,
    init_cursor,
    set_cursor,
    settle_transfer,
)
from tests.dbharness import Db
from tests.factories import T0, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES

HEADS = Heads(head=120, final=108, head_time=T0)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 1)
    return any_db


async def test_cursor_starts_once_and_advances_conditionally(shop: Db) -> None:
    async with shop.sessions() as session:
        await init_cursor(session, "eth", 100, T0)
        await init_cursor(session, "eth", 5, T0)  # a second start keeps the first
        await advance_cursor(session, "eth", 100, 109, HEADS, T0)
        await session.commit()
    async with shop.sessions() as session:
        cursor = await get_cursor(session, "eth")
        assert cursor is not None
        assert (cursor.next_block, cursor.final_head, cursor.blocks_processed) == (109, 108, 9)
        with pytest.raises(CursorMoved, match="another `usdtpay watch eth`"):
            await advance_cursor(session, "eth", 100, 120, HEADS, T0)
        with pytest.raises(ValueError, match="move back"):
            await advance_cursor(session, "eth", 109, 50, HEADS, T0)


async def test_failed_ingest_rolls_back_the_cursor_with_the_transfers(shop: Db) -> None:
    order = await make_order(shop)
    async with shop.sessions() as session:
        await init_cursor(session, "eth", 100, T0)
        await session.commit()
    with pytest.raises(CursorMoved):
        async with shop.sessions() as session:
            await ingest(session, "eth", [paying(order)], T0, RULES)
            await advance_cursor(session, "eth", 99, 109, HEADS, T0)  # wrong expectation
            await session.commit()
    async with shop.sessions() as session:
        assert (await get_cursor(session, "eth")).next_block == 100  # type: ignore[union-attr]
        assert await session.scalar(select(func.count()).select_from(Transfer)) == 0
        assert (await session.get(Order, order.id)).status == "pending"  # type: ignore[union-attr]


async def test_set_cursor_moves_anywhere(shop: Db) -> None:
    async with shop.sessions() as session:
        await set_cursor(session, "eth", 500, T0)
        await set_cursor(session, "eth", 20, T0)
        await session.commit()
        assert (await get_cursor(session, "eth")).next_block == 20  # type: ignore[union-attr]


async def test_expiry_moves_due_chain_orders_and_keeps_them_payable(shop: Db) -> None:
    due = await make_order(shop)
    fresh = await make_order(shop, now=T0 + timedelta(minutes=20))
    at = due.expires_at + timedelta(seconds=1)
    async with shop.sessions() as session:
        assert await expire_due(session, at) == 1
        await session.commit()
    async with shop.sessions() as session:
        statuses = {o.id: o.status for o in await session.scalars(select(Order))}
    assert statuses == {due.id: "expired", fresh.id: "pending"}
    async with shop.sessions() as session:
        result = await ingest(session, "eth", [paying(due, at=at + timedelta(minutes=10))], at, RULES)
        await session.commit()
    assert result.matched_orders == [due.id]


async def test_fiat_orders_are_left_to_their_channel(shop: Db) -> None:
    order = await make_order(shop)
    async with shop.sessions() as session:
        row = await session.get(Order, order.id)
        assert row is not None
        row.channel = "wechat"
        await session.commit()
    async with shop.sessions() as session:
        assert await expire_due(session, order.expires_at + timedelta(hours=1)) == 0


@pytest.mark.postgres
async def test_two_settlers_of_one_transfer_settle_once(pg_db: Db) -> None:
    """A watcher and a supplement racing on PostgreSQL: the row lock and the
    unique (chain, tx, log) let exactly one settle."""
    await make_merchant(pg_db)
    await make_wallets(pg_db, "eth", 1)
    order = await make_order(pg_db)
    t = paying(order)
    first, second = pg_db.sessions(), pg_db.sessions()
    try:
        assert await settle_transfer(first, t, order.id, T0, source="watcher") is Settle.SETTLED
        racing = asyncio.create_task(settle_transfer(second, t, order.id, T0, source="supplement"))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waits on the order's row lock
        await first.commit()
        assert await racing is Settle.NOT_SETTLEABLE
        await second.commit()
    finally:
        await first.close()
        await second.close()
    async with pg_db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Transfer)) == 1
