"""An EPay shop paid through the Alipay simulator, end to end over real HTTP:
mapi.php → Alipay precreate at the simulator → the payer pays → the
simulator's signed callback settles the order → the notifier GETs the
shop's notify_url, which checks the EPay signature with its own verifier
(tests/fakes/merchant_receiver.py) → the browser's return is signed only
now. A shop that fails once is asked again on the epay schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.http.app import create_app
from engine.clock import ManualClock
from engine.config import NotifySettings
from engine.models import Notification
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID, make_merchant
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.epay_client import signed, verify
from tests.fakes.fiat_http import bind_loopback, serve_app, socket_url
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.fakes.quickpay_sim import QuickPaySim
from tests.fakes.wechat_sim import WechatSim
from tests.integration.bridges.world import World, world_settings

pytestmark = pytest.mark.timeout(60)
RETURN = "https://shop.example/epay_return.php"


@pytest.fixture
async def shop_world(
    db: Db, tmp_path: Path, wechat_sim: WechatSim, alipay_sim: AlipaySim, quickpay_sim: QuickPaySim
) -> AsyncIterator[World]:
    """The fiat world, with notifications allowed to reach loopback."""
    await make_merchant(db)
    sock = bind_loopback()
    settings = world_settings(db, socket_url(sock), (wechat_sim, alipay_sim, quickpay_sim), tmp_path)
    settings = settings.model_copy(
        update={"notify": NotifySettings(allow_hosts=["127.0.0.1"], timeout_seconds=2)}
    )
    app = create_app(settings)
    async with serve_app(app, sock) as url:
        yield World(db, url, app.state.app_state, wechat_sim, alipay_sim, quickpay_sim)


def create_fields(notify_url: str, **over: str) -> dict[str, str]:
    fields = {
        "pid": MERCHANT_PID,
        "type": "alipay",
        "out_trade_no": "DJK20240101000123",
        "notify_url": notify_url,
        "return_url": RETURN,
        "name": "独角数卡 测试商品",
        "money": "9.9",
        "param": "uid=42",
        "clientip": "203.0.113.9",
        "device": "pc",
        "sitename": "独角数卡",
    }
    return signed(fields | over, MERCHANT_KEY)


async def test_alipay_paid_epay_order_notifies_the_shop(shop_world: World) -> None:
    world = shop_world
    with MerchantReceiver(MERCHANT_KEY) as shop:
        async with httpx.AsyncClient(base_url=world.url) as http:
            answer = (await http.post("/mapi.php", data=create_fields(shop.url("epay")))).json()
            assert answer["code"] == 1 and answer["qrcode"].startswith("https://qr.alipay.com/"), answer
            order_id = int(answer["trade_no"])
            relay = (await world.reload(order_id)).return_url
            before = await http.get(relay, follow_redirects=False)
            assert before.headers["location"].endswith(f"/cashier.html?orderId={order_id}")
            [payment] = await world.payments(order_id)
            assert payment.amount_fen == 990
            callback = await world.alipay.pay(payment.out_trade_no)
            assert callback is not None and callback.content == b"success"
            assert (await world.reload(order_id)).status == "paid"

            shop.behave("fail", times=1)
            settings = world.state.settings
            clock = ManualClock(datetime.now(UTC))  # from the settlement on
            async with new_client(settings) as client:
                notifier = Notifier(world.db.sessions, settings, clock, client)
                assert await notifier.round() == 1
                assert await notifier.round() == 0  # not due yet: 15 s later
                clock.advance(seconds=15)
                assert await notifier.round() == 1
            after = await http.get(relay, follow_redirects=False)
            status = await http.get(
                "/api.php",
                params={"act": "order", "pid": MERCHANT_PID, "key": MERCHANT_KEY, "trade_no": str(order_id)},
            )
    first, second = shop.received
    assert first.signature_ok and not first.acked and second.acked
    assert first.delivery_id == second.delivery_id and first.path == second.path
    got = second.fields
    assert verify(got, MERCHANT_KEY)
    assert got["trade_status"] == "TRADE_SUCCESS" and got["trade_no"] == str(order_id)
    assert (got["out_trade_no"], got["type"], got["money"], got["name"], got["param"]) == (
        "DJK20240101000123", "alipay", "9.9", "独角数卡 测试商品", "uid=42",
    )  # fmt: skip
    assert second.path.startswith("/epay/notify?pid=")
    returned = dict(httpx.URL(after.headers["location"]).params)
    assert after.headers["location"].startswith(RETURN + "?") and verify(returned, MERCHANT_KEY)
    assert returned == got
    paid = await world.reload(order_id)
    assert status.json()["status"] == 1 and status.json()["api_trade_no"] == paid.channel_trade_no


async def test_the_epay_schedule_runs_a_day_then_gives_up(shop_world: World) -> None:
    world = shop_world
    with MerchantReceiver(MERCHANT_KEY) as shop:
        async with httpx.AsyncClient(base_url=world.url) as http:
            answer = (await http.post("/mapi.php", data=create_fields(shop.url("epay")))).json()
        [payment] = await world.payments(int(answer["trade_no"]))
        await world.alipay.pay(payment.out_trade_no)
        shop.behave("wrong_body")
        clock = ManualClock(datetime.now(UTC))
        first = clock.now()
        settings = world.state.settings
        async with new_client(settings) as client:
            notifier = Notifier(world.db.sessions, settings, clock, client)
            for _ in range(30):  # each attempt exactly when it is due
                assert await notifier.round() == 1
                row = await notification(world)
                if row.status != "pending":
                    break
                clock.set(row.next_attempt_at)
    assert row.status == "failed" and row.attempts == 14
    assert len(shop.received) == 14 and not any(r.acked for r in shop.received)
    assert all(r.signature_ok for r in shop.received)
    assert clock.now() - first == timedelta(hours=24)


async def notification(world: World) -> Notification:
    async with world.db.sessions() as session:
        return (await session.scalars(select(Notification))).one()
