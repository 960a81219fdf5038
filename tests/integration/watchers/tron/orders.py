"""TRON orders and a watcher (the shared streamer + the TRON reader) for end-to-end tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.config import TRON_USDT_CONTRACT, OrderSettings, Settings
from engine.merchants import get_merchant
from engine.models import ChainCursor, Order, Transfer
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.settlement import MatchRules
from tests.dbharness import Db
from tests.factories import MERCHANT_PID
from watchers.streamer import StepResult, Streamer, StreamerConfig
from watchers.tron.reader import TronReader

ORDER_SETTINGS = OrderSettings(expire_minutes=30, late_window_minutes=30)
RULES = MatchRules(token_contract=TRON_USDT_CONTRACT, late_window=timedelta(minutes=30))
_numbers = itertools.count(1)


async def tron_order(db: Db, now: datetime, price_units: int = 10_000_000) -> Order:
    """A committed USDT-priced order on tron (needs a merchant and tron wallets)."""
    async with db.sessions() as session:
        merchant = await get_merchant(session, MERCHANT_PID)
    assert merchant is not None, "make_merchant first"
    new = NewOrder(
        face="usdt",
        merchant_order_no=f"TRON-{next(_numbers)}",
        currency=Currency.USDT,
        amount_units=price_units,
        chain="tron",
        notify_url="https://merchant.example/notify",
    )
    # USDT-priced: no rate is read.
    settings = Settings(orders=ORDER_SETTINGS)
    order, _ = await create_order(db.work, merchant, new, settings=settings, clock=ManualClock(now))
    return order


def streamer(reader: TronReader, db: Db, start_block: int, batch: int = 50) -> Streamer:
    config = StreamerConfig(
        chain="tron",
        rules=RULES,
        batch_blocks=batch,
        poll_seconds=0.0,
        start_block=start_block,
        max_backoff_s=1,
    )
    return Streamer(reader, db.sessions, config)


async def until_caught_up(watcher: Streamer, max_steps: int = 200, tolerate: int = 0) -> list[StepResult]:
    """Step until caught up; `tolerate` error steps are allowed (loaded CI machines time out)."""
    steps = []
    for _ in range(max_steps):
        step = await watcher.run_step()
        steps.append(step)
        if step.kind == "caught_up":
            return steps
        if step.kind == "error" and tolerate > 0:
            tolerate -= 1
            for node in watcher.reader.client.nodes:  # type: ignore[attr-defined]
                node.down_until = 0.0  # the streamer reported the delay; do not wait it out here
            continue
        assert step.kind == "ingested", step.error
    raise AssertionError("the watcher did not catch up")


async def reload(db: Db, order: Order) -> Order:
    async with db.sessions() as session:
        found = await session.get(Order, order.id)
        assert found is not None
        return found


async def cursor(db: Db) -> int | None:
    async with db.sessions() as session:
        row = await session.get(ChainCursor, "tron")
        return None if row is None else row.next_block


async def transfer_count(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Transfer)) or 0)
