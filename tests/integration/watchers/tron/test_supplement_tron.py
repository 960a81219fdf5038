"""Supplement by tx hash with the TRON reader's lookup, and its agreement with block scanning:
a transfer settled by supplement and later replayed by the watcher is the same row
(same tx hash and log index from both paths), never a second settlement."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.models import Notification, Transfer
from engine.settlement import set_cursor
from engine.supplement import TxFailed, TxNotFinal, WrongToken, verify_and_settle
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.fakes.tron_chain import OTHER_TOKENS, TronChain
from tests.fakes.tron_node import TronNodeSim
from tests.integration.watchers.tron.orders import RULES, reload, streamer, tron_order, until_caught_up
from tests.integration.watchers.tron.support import FIRST, ReaderFactory


def at(chain: TronChain, block: int) -> datetime:
    return datetime.fromtimestamp(chain.block_ms(block) // 1000, UTC)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "tron", 2)
    return any_db


async def test_supplement_settles_a_transfer_the_watcher_skipped_and_a_replay_adds_nothing(
    shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, at(chain, FIRST))
    assert order.address and order.usdt_units
    paid = chain.add_transfer(FIRST + 10, order.address, order.usdt_units, via_router=True)
    reader = make_reader([node])
    watcher = streamer(reader, shop, start_block=FIRST + 50)  # started past the payment
    await until_caught_up(watcher)
    assert (await reload(shop, order)).status == "pending"

    lookup = await reader.transaction("0x" + paid.tx_hash.upper())
    async with shop.sessions() as session:
        await verify_and_settle(session, order.id, paid.tx_hash, lookup, RULES, at(chain, FIRST + 60))
        await session.commit()
    after = await reload(shop, order)
    assert (after.status, after.tx_hash, after.block_number) == ("paid", paid.tx_hash, FIRST + 10)

    async with shop.sessions() as session:  # the operator replays the skipped blocks
        await set_cursor(session, "tron", FIRST, at(chain, FIRST + 60))
        await session.commit()
    steps = await until_caught_up(watcher)
    assert sum(s.ingested.duplicates for s in steps if s.ingested) == 1
    async with shop.sessions() as session:
        rows = (await session.scalars(select(Transfer))).all()
        notes = Counter((await session.scalars(select(Notification.order_id))).all())
    assert [(r.tx_hash, r.log_index, r.status, r.source) for r in rows] == [
        (paid.tx_hash, 2, "matched", "supplement")
    ]
    assert notes == Counter({order.id: 1})


@pytest.mark.parametrize("case", ["not_final", "failed", "other_token"])
async def test_supplement_says_which_check_failed(
    case: str, shop: Db, chain: TronChain, node: TronNodeSim, make_reader: ReaderFactory
) -> None:
    order = await tron_order(shop, at(chain, chain.head - 40))
    assert order.address and order.usdt_units
    planted = {
        "not_final": lambda: chain.add_transfer(chain.head - 3, order.address, order.usdt_units),
        "failed": lambda: chain.add_transfer(chain.head - 30, order.address, order.usdt_units, success=False),
        "other_token": lambda: chain.add_transfer(
            chain.head - 30, order.address, order.usdt_units, contract=OTHER_TOKENS[0]
        ),
    }[case]()
    error = {"not_final": TxNotFinal, "failed": TxFailed, "other_token": WrongToken}[case]
    lookup = await make_reader([node]).transaction(planted.tx_hash)
    async with shop.sessions() as session:
        with pytest.raises(error):
            await verify_and_settle(session, order.id, planted.tx_hash, lookup, RULES, at(chain, chain.head))
    assert (await reload(shop, order)).status == "pending"
