"""Seen transfers (issue 17): judged with settlement's rules, replaced on
every look, never in the books; and what the payer is told from them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.chain import Heads
from engine.models import Order, SeenTransfer, Transfer
from engine.seen.queries import prune_below
from engine.seen.service import confirmations, payer_view, record_seen
from engine.settlement import ingest, init_cursor, record_heads
from tests.dbharness import Db
from tests.factories import T0, eth_address, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES

NOW = T0 + timedelta(minutes=6)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 1)
    return any_db


async def seen(db: Db, transfers: list) -> tuple:  # type: ignore[type-arg]
    async with db.sessions() as session:
        change = await record_seen(session, "eth", transfers, NOW, RULES)
        await session.commit()
    async with db.sessions() as session:
        rows = list(await session.scalars(select(SeenTransfer).order_by(SeenTransfer.block_number)))
    return change, rows


async def books(db: Db, order: Order) -> tuple[int, str]:
    async with db.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Transfer))
        status = (await session.get(Order, order.id, populate_existing=True)).status  # type: ignore[union-attr]
        return int(count or 0), status


async def test_exact_and_near_amounts_are_seen_strangers_are_not(shop: Db) -> None:
    order = await make_order(shop)
    assert order.usdt_units is not None
    exact = paying(order, block_number=2001)
    short = paying(order, block_number=2002, amount_units=order.usdt_units - 1)
    stranger = paying(order, block_number=2003, to_address=eth_address(777))
    change, rows = await seen(shop, [exact, short, stranger])
    assert change.added == 2
    assert [(r.tx_hash, r.verdict, r.order_id) for r in rows] == [
        (exact.tx_hash, "pays", order.id),
        (short.tx_hash, "underpaid", order.id),
    ]
    assert await books(shop, order) == (0, "pending")  # seen is not paid


async def test_a_transfer_that_disappears_is_forgotten_without_a_trace(shop: Db) -> None:
    order = await make_order(shop)
    transfer = paying(order, block_number=2001)
    await seen(shop, [transfer])
    moved = paying(order, block_number=2005, tx_hash=transfer.tx_hash)  # re-mined higher
    change, rows = await seen(shop, [moved])
    assert (change.added, change.kept, [r.block_number for r in rows]) == (0, 1, [2005])
    change, rows = await seen(shop, [])  # a reorg dropped it
    assert (change.gone, rows) == (1, [])
    assert await books(shop, order) == (0, "pending")


async def test_a_transfer_already_in_the_books_is_not_seen_again(shop: Db) -> None:
    order = await make_order(shop)
    transfer = paying(order, block_number=2001)
    async with shop.sessions() as session:
        await ingest(session, "eth", [transfer], NOW, RULES)
        await session.commit()
    _, rows = await seen(shop, [transfer])
    assert rows == []


async def test_payer_view_counts_confirmations_from_the_recorded_heads(shop: Db) -> None:
    order = await make_order(shop)
    await seen(shop, [paying(order, block_number=2001)])
    async with shop.sessions() as session:
        await init_cursor(session, "eth", 1990, NOW)
        await record_heads(session, "eth", Heads(head=2003, final=1991), NOW)
        await session.commit()
        view = await session.run_sync(lambda s: payer_view(s.connection(), order))
    assert view.confirming is not None and view.near_miss is None
    assert (view.confirming.confirmations, view.confirming.needed) == (3, 12)


def test_confirmations_are_counted_like_block_explorers() -> None:
    assert confirmations(100, head=100, final=88) == (1, 12)  # the block itself is the first
    assert confirmations(100, head=111, final=99) == (12, 12)  # N / N: final with the next block
    assert confirmations(100, head=130, final=118) == (12, 12)  # never past N
    assert confirmations(100, head=None, final=None) == (1, None)


async def test_payer_view_explains_a_final_under_payment(shop: Db) -> None:
    order = await make_order(shop)
    assert order.usdt_units is not None
    short = paying(order, block_number=2001, amount_units=order.usdt_units - 10_000)
    async with shop.sessions() as session:
        await ingest(session, "eth", [short], NOW, RULES)
        await session.commit()
        view = await session.run_sync(lambda s: payer_view(s.connection(), order))
    assert view.confirming is None and view.near_miss is not None
    miss = view.near_miss
    assert (miss.reason, miss.sent_units, miss.needed_units, miss.final) == (
        "underpaid",
        order.usdt_units - 10_000,
        order.usdt_units,
        True,
    )


async def test_prune_below_forgets_rows_the_final_scan_has_read(shop: Db) -> None:
    order = await make_order(shop)
    await seen(shop, [paying(order, block_number=2001), paying(order, block_number=2010)])
    async with shop.sessions() as session:
        await prune_below(session, "eth", 2005)
        await session.commit()
        left = list(await session.scalars(select(SeenTransfer.block_number)))
    assert left == [2010]
