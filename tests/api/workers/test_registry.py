"""The chain workers of `usdtpay run` and the expiry loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from api.workers.registry import available_workers
from engine.clock import ManualClock
from engine.config import EthSettings, Settings, TronSettings
from engine.models import Order
from tests.dbharness import Db
from tests.factories import T0, make_merchant, make_order, make_wallets
from watchers.runner import run_expiry


def test_workers_follow_the_enabled_chains() -> None:
    none = available_workers(Settings(rate_fixed=1))  # type: ignore[arg-type]
    assert not {"watch-eth", "watch-tron", "expiry"} & set(none)
    eth = available_workers(Settings(rate_fixed=1, eth=EthSettings(enabled=True)))  # type: ignore[arg-type]
    assert {"watch-eth", "expiry"} <= set(eth) and "watch-tron" not in eth
    both = Settings(rate_fixed=1, eth=EthSettings(enabled=True), tron=TronSettings(enabled=True))  # type: ignore[arg-type]
    assert {"watch-eth", "watch-tron", "expiry"} <= set(available_workers(both))


async def test_expiry_loop_expires_due_orders_until_stopped(db: Db) -> None:
    await make_merchant(db)
    await make_wallets(db, "eth", 1)
    order = await make_order(db)
    clock = ManualClock(order.expires_at + timedelta(seconds=1))
    stop = asyncio.Event()
    task = asyncio.create_task(run_expiry(db.sessions, stop, clock, interval_s=0.01))
    for _ in range(500):
        async with db.sessions() as session:
            if (await session.scalar(select(Order.status).where(Order.id == order.id))) == "expired":
                break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    async with db.sessions() as session:
        assert await session.scalar(select(Order.status).where(Order.id == order.id)) == "expired"
    assert order.created_at == T0
