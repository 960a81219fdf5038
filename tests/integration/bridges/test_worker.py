"""The fiat-query worker as `usdtpay run` starts it: registered when a
channel is enabled, recovers a lost callback, and stops when told."""

from __future__ import annotations

import asyncio

from api.http.channel_payments import start_fiat_payment
from api.workers.registry import available_workers
from api.workers.supervisor import WorkerContext
from engine.config import FiatSettings, Settings
from engine.fiat.channel import ClientKind
from tests.integration.bridges.world import World


def test_worker_is_registered_only_with_an_enabled_channel(world: World) -> None:
    assert "fiat-query" in available_workers(world.state.settings)
    assert "fiat-query" not in available_workers(Settings(database_url=world.db.url))


async def test_worker_recovers_a_lost_callback_and_stops(world: World) -> None:
    order = await world.order()
    payment = await start_fiat_payment(world.state, order.id, "alipay", ClientKind.QR)
    await world.alipay.pay(payment.out_trade_no, drop=True)
    settings = world.state.settings.model_copy(
        update={"fiat": FiatSettings(query_min_age_seconds=0, query_poll_seconds=0.05)}
    )
    ctx = WorkerContext(settings=settings, sessions=world.db.sessions)
    task = asyncio.create_task(available_workers(settings)["fiat-query"](ctx))
    try:
        async with asyncio.timeout(20):
            while (await world.reload(order.id)).status != "paid":
                await asyncio.sleep(0.05)
    finally:
        ctx.stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert await world.notifications(order.id) == 1
