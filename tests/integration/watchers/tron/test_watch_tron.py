"""TRC20 end to end: an order, a transfer in a simulated block, watcher steps, the order paid.

Runs the shared streamer with the TRON reader against the node simulator
over loopback HTTP and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.models import Transfer
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, tron_address
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import FAULT_KINDS, TronNodeSim
from tests.integration.watchers.tron.orders import (
    cursor,
    reload,
    streamer,
    transfer_count,
    tron_order,
    until_caught_up,
)
from tests.integration.watchers.tron.support import FIRST, NodeFactory, ReaderFactory


def chain_time(chain: TronChain, block: int) -> datetime:
    return datetime.fromtimestamp(chain.block_ms(block) // 1000, UTC)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "tron", 2)
    return any_db


async def test_a_transfer_in_a_solid_block_pays_the_order(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, chain_time(chain, FIRST + 5))
    assert order.address and order.usdt_units
    paid = chain.add_transfer(FIRST + 20, order.address, order.usdt_units, via_router=True)
    chain.add_transfer(FIRST + 19, order.address, order.usdt_units - 1)  # one unit short, before
    watcher = streamer(make_reader([node]), shop, start_block=FIRST)
    steps = await until_caught_up(watcher)

    after = await reload(shop, order)
    assert (after.status, after.tx_hash, after.block_number) == ("paid", paid.tx_hash, FIRST + 20)
    assert after.payer_address == paid.sender and after.paid_units == order.usdt_units
    assert after.paid_at == chain_time(chain, FIRST + 20)
    async with shop.sessions() as session:
        rows = (await session.scalars(select(Transfer).order_by(Transfer.block_number))).all()
    assert [(r.status, r.reason, r.log_index) for r in rows] == [
        ("unmatched", "underpaid", 0),
        ("matched", None, 2),
    ]
    assert await cursor(shop) == chain.solid + 1
    # one info request per block, whatever else happened
    assert node.counts["/walletsolidity/gettransactioninfobyblocknum"] == chain.solid - FIRST + 1
    assert sum(s.ingested.received for s in steps if s.ingested) == 2


async def test_a_transfer_above_the_solid_head_waits_until_it_is_solidified(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, chain_time(chain, chain.head - 30))
    assert order.address and order.usdt_units
    block = chain.head - 5  # in the head, 14 blocks short of solid
    chain.add_transfer(block, order.address, order.usdt_units)
    watcher = streamer(make_reader([node]), shop, start_block=FIRST + 150)
    await until_caught_up(watcher)
    assert (await reload(shop, order)).status == "pending"
    assert await transfer_count(shop) == 0
    assert await cursor(shop) == chain.solid + 1 <= block

    chain.advance(20)  # the block is solidified now
    await until_caught_up(watcher)
    assert (await reload(shop, order)).status == "paid"
    assert await transfer_count(shop) == 1


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "403_suspended"])
async def test_provider_errors_never_move_the_cursor(
    kind: str, db: Db, chain: TronChain, nodes: NodeFactory, make_reader: ReaderFactory
) -> None:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    chain.add_transfer(FIRST + 3, tron_address(1), 5_000_000)
    chain.add_transfer(FIRST + 40, tron_address(1), 6_000_000)
    node = nodes()
    # No inline retries: every fault surfaces to the streamer.
    watcher = streamer(
        make_reader([node], max_inline_wait_s=0, timeout_s=0.5), db, start_block=FIRST, batch=20
    )
    assert (await watcher.run_step()).kind == "ingested"
    assert await cursor(db) == FIRST + 20

    node.fail(kind, path="gettransactioninfobyblocknum", times=1, delay_s=1.5)
    failed = await watcher.run_step()
    assert failed.kind == "error" and failed.delay > 0
    assert await cursor(db) == FIRST + 20
    assert await transfer_count(db) == 1

    await until_caught_up(watcher, tolerate=3)
    async with db.sessions() as session:
        amounts = sorted(r.amount_units for r in await session.scalars(select(Transfer)))
    assert amounts == [5_000_000, 6_000_000]  # each once
