"""create → callback → paid → merchant notified, over real HTTP: the
simulators send signed (WeChat: encrypted) callbacks to usdtpay's receivers.
Bad callbacks (tampered, replayed, wrong amount, wrong app, stale) change
nothing and get the provider's failure answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.http.channel_payments import start_fiat_payment
from engine.fiat.channel import ClientKind
from tests.fakes.fiat_keys import rsa_key
from tests.integration.bridges.world import World

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Case:
    channel: str
    kind: ClientKind
    ok: tuple[int, bytes]
    fail: tuple[int, bytes]
    create: dict[str, str]


CASES = {
    "wechat": Case(
        "wechat",
        ClientKind.QR,
        (200, json.dumps({"code": "SUCCESS", "message": "成功"}, ensure_ascii=False).encode()),
        (400, json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()),
        {},
    ),
    "alipay": Case("alipay", ClientKind.QR, (200, b"success"), (200, b"fail"), {}),
    "quickpay": Case(
        "quickpay",
        ClientKind.JSAPI,
        (200, b"OK"),
        (200, b"FAIL"),
        {"wallet": "wechat", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "appid": "wxd678efh567hg6787"},
    ),
}


async def pay(world: World, channel: str, no: str, variant: str = "", **kw: Any) -> httpx.Response | None:
    """The payer pays at the simulator, which calls back (variant: a bad callback)."""
    if channel == "wechat":
        extra = {
            "wrong_amount": {"amount": 1},
            "wrong_app": {"mchid": "1900000109"},
            "tampered": {"tamper": True},
        }.get(variant, {})
        return await world.wechat.pay(no, **extra, **kw)
    if channel == "alipay":
        if variant == "tampered":
            trade = world.alipay.mark_paid(no)
            body = world.alipay.notification(trade).replace(
                b"buyer_id=2088102177846880", b"buyer_id=2088102177846881"
            )
            return await world.alipay.send(trade.notify_url, body)
        extra = {"wrong_amount": {"total_amount": "0.01"}, "wrong_app": {"app_id": "2021000118699999"}}
        return await world.alipay.pay(no, **extra.get(variant, {}), **kw)
    if variant == "tampered":
        payment = world.quickpay.mark_paid(no)
        body = world.quickpay.callback(payment).replace(b'"buyer": "oUpF8uMu"', b'"buyer": "oUpF8uMv"')
        return await world.quickpay.send(payment.notify_url, body)
    extra = {"wrong_amount": {"total_amount": 1}, "wrong_app": {"store_no": "LK999"}}
    return await world.quickpay.pay(no, **extra.get(variant, {}), **kw)


async def replay_last(world: World, channel: str) -> httpx.Response:
    if channel == "wechat":
        url, headers, body = world.wechat.callbacks[-1]
        return await world.wechat.send(url, headers, body)
    sim = world.alipay if channel == "alipay" else world.quickpay
    url, body = sim.callbacks[-1]
    return await sim.send(url, body)


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


async def started(world: World, case: Case, fen: int = 10000) -> tuple[int, str]:
    order = await world.order(fen)
    payment = await start_fiat_payment(world.state, order.id, case.channel, case.kind, **case.create)
    return order.id, payment.out_trade_no


async def test_create_callback_paid_and_merchant_notified(world: World, case: Case) -> None:
    order_id, no = await started(world, case)
    response = await pay(world, case.channel, no)
    assert response is not None
    assert (response.status_code, response.content) == case.ok
    order = await world.reload(order_id)
    assert order.status == "paid" and order.channel == case.channel
    [payment] = await world.payments(order_id)
    assert payment.status == "paid" and payment.channel_trade_no == order.channel_trade_no
    assert order.channel_trade_no
    assert await world.notifications(order_id) == 1


async def test_replayed_callback_is_acknowledged_and_changes_nothing(world: World, case: Case) -> None:
    order_id, no = await started(world, case)
    await pay(world, case.channel, no)
    paid_at = (await world.reload(order_id)).paid_at
    again = await replay_last(world, case.channel)
    assert (again.status_code, again.content) == case.ok
    assert (await world.reload(order_id)).paid_at == paid_at
    assert await world.notifications(order_id) == 1


@pytest.mark.parametrize("variant", ["tampered", "wrong_amount", "wrong_app"])
async def test_bad_callback_is_refused_and_changes_nothing(world: World, case: Case, variant: str) -> None:
    order_id, no = await started(world, case)
    [before] = await world.payments(order_id)
    response = await pay(world, case.channel, no, variant)
    assert response is not None
    assert (response.status_code, response.content) == case.fail
    assert (await world.reload(order_id)).status == "pending"
    [payment] = await world.payments(order_id)
    assert payment.status == "pending" and payment.channel_trade_no == before.channel_trade_no
    assert await world.notifications(order_id) == 0


async def test_wechat_callback_outside_the_time_window_is_refused(world: World) -> None:
    order_id, no = await started(world, CASES["wechat"])
    old = int(__import__("time").time()) - 3600
    response = await world.wechat.pay(no, timestamp=old)
    assert response is not None and response.status_code == 400
    assert (await world.reload(order_id)).status == "pending"


async def test_wechat_callback_encrypted_with_another_key_is_refused(world: World) -> None:
    order_id, no = await started(world, CASES["wechat"])
    response = await world.wechat.pay(no, apiv3_key=b"0" * 32)
    assert response is not None and response.status_code == 400
    assert (await world.reload(order_id)).status == "pending"


async def test_alipay_notification_signed_by_someone_else_is_refused(world: World) -> None:
    order_id, no = await started(world, CASES["alipay"])
    response = await world.alipay.pay(no, key=rsa_key("intruder"))
    assert response is not None and response.content == b"fail"
    assert await world.notifications(order_id) == 0


async def test_alipay_wait_buyer_pay_notification_is_acknowledged_without_settling(world: World) -> None:
    order_id, no = await started(world, CASES["alipay"])
    trade = world.alipay.scan(no)
    response = await world.alipay.send(trade.notify_url, world.alipay.notification(trade))
    assert response.content == b"success"
    assert (await world.reload(order_id)).status == "pending"


async def test_unknown_channel_path_is_404(world: World) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{world.url}/notify/paypal", content=b"{}")
    assert response.status_code == 404
