"""TRC20 seen before final (issue 17), against the node simulator over HTTP:
a transfer in a head block is seen at once and paid only once solidified;
one that never solidifies is never settled and is forgotten; each head
block costs one more request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.models import SeenTransfer
from engine.seen.service import payer_view
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.fakes.tron_chain import TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.watchers.tron.orders import (
    reload,
    streamer,
    transfer_count,
    tron_order,
    until_caught_up,
)
from tests.integration.watchers.tron.support import ReaderFactory

HEAD_INFO = "/wallet/gettransactioninfobyblocknum"
SOLID_INFO = "/walletsolidity/gettransactioninfobyblocknum"


def chain_time(chain: TronChain, block: int) -> datetime:
    return datetime.fromtimestamp(chain.block_ms(block) // 1000, UTC)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "tron", 2)
    return any_db


async def seen_rows(db: Db) -> list[tuple[str, int, str]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(SeenTransfer).order_by(SeenTransfer.block_number))
        return [(r.tx_hash, r.block_number, r.verdict) for r in rows]


async def test_seen_at_the_head_then_paid_at_solid(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, chain_time(chain, chain.head - 30))
    assert order.address and order.usdt_units
    block = chain.head - 5
    planned = chain.add_transfer(block, order.address, order.usdt_units)
    watcher = streamer(make_reader([node]), shop, start_block=chain.solid - 10)
    await until_caught_up(watcher)

    assert await seen_rows(shop) == [(planned.tx_hash, block, "pays")]
    assert (await reload(shop, order)).status == "pending" and await transfer_count(shop) == 0
    current = await reload(shop, order)
    async with shop.sessions() as session:
        view = await session.run_sync(lambda s: payer_view(s.connection(), current))
    assert view.confirming is not None
    assert (view.confirming.confirmations, view.confirming.needed) == (6, chain.solid_lag)
    # Every head block above the solid head was read once, through the full-node API.
    assert node.counts[HEAD_INFO] == chain.solid_lag

    node.reset_counts()
    chain.advance(1)
    await until_caught_up(watcher)
    assert node.counts[HEAD_INFO] == 1 and node.counts[SOLID_INFO] == 1  # one more request per block

    chain.advance(chain.solid_lag)  # the block is solidified now
    await until_caught_up(watcher)
    assert (await reload(shop, order)).status == "paid"
    assert await seen_rows(shop) == []


async def test_a_head_transfer_that_never_solidifies_is_never_settled(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, chain_time(chain, chain.head - 30))
    assert order.address and order.usdt_units
    planned = chain.add_transfer(chain.head - 2, order.address, order.usdt_units)
    watcher = streamer(make_reader([node]), shop, start_block=chain.solid - 5)
    await until_caught_up(watcher)
    assert [row[0] for row in await seen_rows(shop)] == [planned.tx_hash]

    chain.drop_transfer(planned)  # a fork replaced its block
    chain.advance(chain.solid_lag + 5)
    await until_caught_up(watcher)
    assert (await reload(shop, order)).status == "pending"
    assert await transfer_count(shop) == 0  # not even an unmatched row: it never happened
    assert await seen_rows(shop) == []


async def test_the_setting_off_asks_nothing_above_the_solid_head(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, chain_time(chain, chain.head - 30))
    assert order.address and order.usdt_units
    chain.add_transfer(chain.head - 2, order.address, order.usdt_units)
    watcher = streamer(make_reader([node]), shop, start_block=chain.solid - 5)
    watcher.config = replace(watcher.config, track_unconfirmed=False)
    await until_caught_up(watcher)
    assert node.counts[HEAD_INFO] == 0 and await seen_rows(shop) == []


async def test_a_head_transaction_looked_up_by_hash_says_how_far_it_is(
    chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    planned = chain.add_transfer(chain.head - 3, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 5_000_000)
    lookup = await make_reader([node]).transaction(planned.tx_hash)
    assert (lookup.found, lookup.final, lookup.block_number) == (True, False, chain.head - 3)
    assert (lookup.head, lookup.final_head) == (chain.head, chain.solid)
    chain.advance(chain.solid_lag)
    solid = await make_reader([node]).transaction(planned.tx_hash)
    assert solid.final and solid.head is None  # final: no need to ask for the head
