"""The shared watcher loop against an in-memory chain that injects provider
faults: the cursor never skips, errors never move it, replays are no-ops."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.chain import ChainTransfer, Heads, TxLookup
from engine.models import Order, Transfer
from engine.settlement import get_cursor, set_cursor
from tests.dbharness import Db
from tests.factories import T0, eth_address, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES
from watchers.errors import MalformedResponse, ProviderError, RangeTooLarge, RateLimited
from watchers.streamer import Streamer, StreamerConfig


class FakeChain:
    """Blocks of transfers; `faults` are raised by the next calls, in order."""

    chain = "eth"

    def __init__(self, head: int, confirmations: int = 2) -> None:
        self.head = head
        self.confirmations = confirmations
        self.blocks: dict[int, list[ChainTransfer]] = {}
        self.faults: list[BaseException] = []
        self.max_range: int | None = None
        self.ranges: list[tuple[int, int]] = []

    def _fault(self) -> None:
        if self.faults:
            raise self.faults.pop(0)

    async def heads(self) -> Heads:
        self._fault()
        return Heads(head=self.head, final=self.head - self.confirmations, head_time=T0)

    async def transfers(self, start: int, end: int, addresses: frozenset[str]) -> list[ChainTransfer]:
        self._fault()
        if self.max_range is not None and end - start + 1 > self.max_range:
            raise RangeTooLarge(f"block range too wide: {end - start + 1} > {self.max_range}")
        self.ranges.append((start, end))
        return [t for n in range(start, end + 1) for t in self.blocks.get(n, []) if t.to_address in addresses]

    async def block_time(self, number: int):  # type: ignore[no-untyped-def]
        return T0 + timedelta(seconds=number)

    async def transaction(self, tx_hash: str) -> TxLookup:
        return TxLookup(found=False)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 1)
    return any_db


def streamer(db: Db, chain: FakeChain, *, batch: int = 10, start: int | None = 1) -> Streamer:
    config = StreamerConfig(chain="eth", rules=RULES, batch_blocks=batch, poll_seconds=7.0, start_block=start)
    return Streamer(chain, db.sessions, config)


async def paid_chain(db: Db, blocks: int = 40, orders: int = 6) -> tuple[FakeChain, list[Order]]:
    """A chain whose blocks pay `orders` orders, plus strangers' transfers."""
    chain = FakeChain(head=blocks + 2)
    made = [await make_order(db) for _ in range(orders)]
    for i, order in enumerate(made):
        number = 3 + i * (blocks // orders)
        chain.blocks.setdefault(number, []).append(paying(order, block_number=number, log_index=1))
        noise = paying(order, block_number=number, log_index=2, to_address=eth_address(999))
        chain.blocks[number].append(noise)  # not ours: the reader filters it out
    return chain, made


async def drain(s: Streamer, limit: int = 500) -> list:  # type: ignore[type-arg]
    steps = []
    for _ in range(limit):
        step = await s.run_step()
        steps.append(step)
        if step.kind == "caught_up":
            return steps
    raise AssertionError("the streamer never caught up")


async def state(db: Db) -> tuple[int, int, int]:
    async with db.sessions() as session:
        cursor = await get_cursor(session, "eth")
        transfers = await session.scalar(select(func.count()).select_from(Transfer))
        paid = await session.scalar(select(func.count()).select_from(Order).where(Order.status == "paid"))
        assert cursor is not None
        return cursor.next_block, int(transfers or 0), int(paid or 0)


def assert_contiguous(steps: list, first: int) -> None:  # type: ignore[type-arg]
    expected = first
    for step in steps:
        if step.kind == "ingested":
            assert step.start == expected, f"gap or overlap at {step.start}, expected {expected}"
            expected = step.end + 1


async def test_catches_up_in_batches_and_pays_orders(shop: Db) -> None:
    chain, orders = await paid_chain(shop)
    s = streamer(shop, chain)
    steps = await drain(s)
    assert_contiguous(steps, 1)
    assert steps[-1].delay == 7.0  # caught up: wait the poll interval
    assert await state(shop) == (chain.head - chain.confirmations + 1, len(orders), len(orders))
    assert all(end - start + 1 <= 10 for start, end in chain.ranges)


async def test_first_start_without_a_start_block_begins_at_the_final_head(shop: Db) -> None:
    chain, _ = await paid_chain(shop)
    steps = await drain(streamer(shop, chain, start=None))
    assert [(s.start, s.end) for s in steps if s.kind == "ingested"] == [(40, 40)]
    assert (await state(shop))[1] == 0


async def test_new_blocks_are_followed_once_final(shop: Db) -> None:
    chain, _ = await paid_chain(shop)
    s = streamer(shop, chain)
    await drain(s)
    late = await make_order(shop)
    chain.blocks[44] = [paying(late, block_number=44)]
    chain.head = 45  # block 44 is not final yet (2 confirmations)
    await drain(s)
    assert (await state(shop))[0] == 44
    chain.head = 46
    await drain(s)
    assert (await state(shop))[0] == 45
    async with shop.sessions() as session:
        assert (await session.get(Order, late.id)).status == "paid"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fault",
    [
        RateLimited("HTTP 429", retry_after=30.0),
        RateLimited("HTTP 403: suspended for 90s", retry_after=90.0),
        ProviderError("HTTP 503"),
        TimeoutError("timed out"),
        MalformedResponse("not JSON"),
        ValueError("unexpected shape"),
    ],
)
async def test_provider_errors_back_off_and_never_move_the_cursor(shop: Db, fault: BaseException) -> None:
    chain, orders = await paid_chain(shop)
    s = streamer(shop, chain)
    await s.run_step()
    before = await state(shop)
    chain.faults = [fault, fault, fault]
    delays = []
    for _ in range(3):
        step = await s.run_step()
        assert step.kind == "error"
        delays.append(step.delay)
        assert await state(shop) == before
    assert delays == sorted(delays) and delays[0] >= 1.0
    retry_after = getattr(fault, "retry_after", None)
    if retry_after:
        assert min(delays) >= retry_after
    steps = await drain(s)
    assert_contiguous(steps, before[0])
    assert (await state(shop))[1:] == (len(orders), len(orders))
    assert s.progress.errors == 3


async def test_range_too_large_shrinks_the_range_then_grows_back(shop: Db) -> None:
    chain, orders = await paid_chain(shop)
    chain.max_range = 3
    s = streamer(shop, chain, batch=16)
    steps = await drain(s)
    assert_contiguous(steps, 1)
    assert any(step.kind == "error" and step.delay == 0 for step in steps)
    assert all(end - start + 1 <= 3 for start, end in chain.ranges)
    assert (await state(shop))[1:] == (len(orders), len(orders))


async def test_replaying_a_range_is_a_no_op(shop: Db) -> None:
    chain, orders = await paid_chain(shop)
    s = streamer(shop, chain)
    await drain(s)
    before = await state(shop)
    async with shop.sessions() as session:
        await set_cursor(session, "eth", 1, T0)
        await session.commit()
    steps = await drain(s)
    assert sum(step.ingested.duplicates for step in steps if step.ingested) == len(orders)
    assert await state(shop) == before


async def test_random_faults_never_lose_or_repeat_a_transfer(shop: Db) -> None:
    chain, orders = await paid_chain(shop, blocks=60, orders=8)
    rng = random.Random(7)
    kinds = [
        ProviderError("HTTP 502"),
        RateLimited("429", retry_after=1.0),
        RangeTooLarge("too many results"),
    ]
    s = streamer(shop, chain, batch=7)
    steps = []
    for _ in range(400):
        if rng.random() < 0.4:
            chain.faults.append(rng.choice(kinds))
        step = await s.run_step()
        steps.append(step)
        if step.kind == "caught_up" and not chain.faults:
            break
    assert_contiguous(steps, 1)
    assert await state(shop) == (chain.head - chain.confirmations + 1, len(orders), len(orders))


async def test_a_reader_of_another_chain_is_refused(shop: Db) -> None:
    chain = FakeChain(head=10)
    chain.chain = "tron"
    with pytest.raises(ValueError, match="tron reader"):
        streamer(shop, chain)
