"""The streamer's look above the final head (issue 17): seen at once,
paid only when final, a transfer a reorg drops forgotten, and a failing
look never holding up the final scan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.chain import ChainTransfer, Heads, TxLookup
from engine.models import Order, SeenTransfer, Transfer
from tests.dbharness import Db
from tests.factories import T0, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES
from watchers.errors import ProviderError
from watchers.streamer import StepResult, Streamer, StreamerConfig


class SeeingChain:
    """Blocks of transfers in memory, read final or above the final head."""

    chain = "eth"

    def __init__(self, head: int, confirmations: int = 2) -> None:
        self.head = head
        self.confirmations = confirmations
        self.blocks: dict[int, list[ChainTransfer]] = {}
        self.looks: list[tuple[int, int]] = []
        self.look_faults: list[BaseException] = []

    async def heads(self) -> Heads:
        return Heads(head=self.head, final=self.head - self.confirmations, head_time=T0)

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        return [t for n in range(start, end + 1) for t in self.blocks.get(n, []) if t.to_address in addresses]

    async def block_time(self, number: int):  # type: ignore[no-untyped-def]
        return T0 + timedelta(seconds=number)

    async def transaction(self, tx_hash: str) -> TxLookup:
        return TxLookup(found=False)

    async def unconfirmed_transfers(
        self, start: int, end: int, addresses: frozenset[str]
    ) -> list[ChainTransfer]:
        if self.look_faults:
            raise self.look_faults.pop(0)
        self.looks.append((start, end))
        return await self.transfers(start, end, addresses)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 1)
    return any_db


def streamer(db: Db, chain: SeeingChain, *, track: bool = True) -> Streamer:
    config = StreamerConfig(
        chain="eth", rules=RULES, batch_blocks=10, poll_seconds=7.0, start_block=1, track_unconfirmed=track
    )
    return Streamer(chain, db.sessions, config)


async def drain(s: Streamer) -> list[StepResult]:
    steps = []
    for _ in range(100):
        steps.append(await s.run_step())
        if steps[-1].kind == "caught_up":
            return steps
    raise AssertionError("the streamer never caught up")


async def seen_and_paid(db: Db, order: Order) -> tuple[list[int], str, int]:
    async with db.sessions() as session:
        blocks = list(await session.scalars(select(SeenTransfer.block_number)))
        status = (await session.get(Order, order.id, populate_existing=True)).status  # type: ignore[union-attr]
        transfers = await session.scalar(select(func.count()).select_from(Transfer))
    return blocks, status, int(transfers or 0)


async def test_seen_above_the_final_head_then_paid_when_final(shop: Db) -> None:
    order = await make_order(shop, now=T0)
    chain = SeeingChain(head=20)
    chain.blocks[20] = [paying(order, block_number=20, block_time=T0 + timedelta(minutes=1))]
    s = streamer(shop, chain)
    await drain(s)
    assert chain.looks[-1] == (19, 20)  # final head 18: blocks 19 and 20 are looked at
    assert await seen_and_paid(shop, order) == ([20], "pending", 0)
    assert s.progress.seen == 1

    chain.head = 22  # block 20 is final now
    await drain(s)
    assert await seen_and_paid(shop, order) == ([], "paid", 1)


async def test_a_transfer_dropped_by_a_reorg_is_forgotten_and_never_paid(shop: Db) -> None:
    order = await make_order(shop, now=T0)
    chain = SeeingChain(head=20)
    chain.blocks[20] = [paying(order, block_number=20, block_time=T0 + timedelta(minutes=1))]
    s = streamer(shop, chain)
    await drain(s)
    assert (await seen_and_paid(shop, order))[0] == [20]
    del chain.blocks[20]  # the block was replaced without the transfer
    chain.head = 21
    await drain(s)
    assert await seen_and_paid(shop, order) == ([], "pending", 0)
    chain.head = 30
    await drain(s)
    assert await seen_and_paid(shop, order) == ([], "pending", 0)


async def test_a_failing_look_never_holds_up_the_final_scan(shop: Db) -> None:
    order = await make_order(shop, now=T0)
    chain = SeeingChain(head=20)
    chain.blocks[18] = [paying(order, block_number=18, block_time=T0 + timedelta(minutes=1))]
    chain.look_faults = [ProviderError("head block unavailable")]
    s = streamer(shop, chain)
    steps = await drain(s)
    assert all(step.kind != "error" for step in steps)
    assert s.progress.seen_errors == 1
    assert await seen_and_paid(shop, order) == ([], "paid", 1)


async def test_the_setting_turns_the_look_off(shop: Db) -> None:
    order = await make_order(shop, now=T0)
    chain = SeeingChain(head=20)
    chain.blocks[20] = [paying(order, block_number=20, block_time=T0 + timedelta(minutes=1))]
    await drain(streamer(shop, chain, track=False))
    assert chain.looks == []
    assert (await seen_and_paid(shop, order))[0] == []
