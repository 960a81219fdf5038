"""Lost callbacks recovered by the query step; unpaid payments closed after
expiry; provider errors (4xx with codes, 5xx, timeouts, bad signatures)
turned into ChannelError for the caller; repeated requests reuse a payment."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from api.http.channel_payments import start_fiat_payment
from bridges.alipay import AlipayChannel
from bridges.quickpay import QuickPayChannel
from bridges.wechat import WechatChannel
from engine.clock import ManualClock, SystemClock
from engine.config import FiatSettings
from engine.errors import BusinessRule, UpstreamError
from engine.fiat.channel import ChannelError, ClientKind, PaymentRequest
from engine.fiat.query_loop import FiatQuery
from tests.fakes.alipay_sim import AlipaySim
from tests.fakes.fiat_http import SimResponse, private_pem
from tests.fakes.fiat_keys import rsa_key
from tests.fakes.quickpay_sim import QuickPaySim
from tests.fakes.wechat_sim import WechatSim
from tests.integration.bridges.world import (
    TIMEOUT_S,
    World,
    alipay_settings,
    quickpay_settings,
    wechat_settings,
)

pytestmark = pytest.mark.timeout(60)

KINDS = {
    "wechat": (ClientKind.QR, {}),
    "alipay": (ClientKind.QR, {}),
    "quickpay": (ClientKind.QR, {}),
}


def wx_error(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}, ensure_ascii=False).encode()


def query_step(world: World, clock: ManualClock | SystemClock | None = None) -> FiatQuery:
    settings = FiatSettings(query_min_age_seconds=0, close_grace_seconds=60)
    return FiatQuery(world.state.sessions, world.state.channels, settings, clock or SystemClock())


@pytest.mark.parametrize("channel", sorted(KINDS))
async def test_lost_callback_is_recovered_by_the_query_step(world: World, channel: str) -> None:
    order = await world.order()
    kind, extra = KINDS[channel]
    payment = await start_fiat_payment(world.state, order.id, channel, kind, **extra)
    sim = getattr(world, channel)
    assert await sim.pay(payment.out_trade_no, drop=True) is None  # the callback never arrives
    assert (await world.reload(order.id)).status == "pending"

    report = await query_step(world).step()

    assert report.queried == 1 and report.settled == 1
    assert (await world.reload(order.id)).status == "paid"
    assert await world.notifications(order.id) == 1
    # The callback turning up late changes nothing.
    url, *rest = sim.callbacks[-1]
    late = await sim.send(url, *rest)
    assert late.status_code == 200
    assert await world.notifications(order.id) == 1


@pytest.mark.parametrize("channel", sorted(KINDS))
async def test_unpaid_payment_is_closed_and_the_order_expires(world: World, channel: str) -> None:
    order = await world.order()
    kind, extra = KINDS[channel]
    payment = await start_fiat_payment(world.state, order.id, channel, kind, **extra)
    before_expiry = query_step(world, ManualClock(order.expires_at - timedelta(minutes=1)))
    assert (await before_expiry.step()).closed == 0

    report = await query_step(world, ManualClock(order.expires_at + timedelta(minutes=5))).step()

    assert report.closed == 1 and report.expired_orders == 1
    assert (await world.reload(order.id)).status == "expired"
    [stored] = await world.payments(order.id)
    assert stored.status == "closed"
    if channel == "wechat":
        assert world.wechat.orders[payment.out_trade_no].trade_state == "CLOSED"
    if channel == "quickpay":
        assert world.quickpay.payments[payment.out_trade_no].status == "CANCELED"
    assert await world.notifications(order.id) == 0


async def test_a_repeated_request_reuses_the_issued_payment(world: World) -> None:
    order = await world.order()
    first = await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    second = await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    assert second.payment_id == first.payment_id and second.created.qrcode == first.created.qrcode
    assert len(world.wechat.orders) == 1
    await world.wechat.pay(first.out_trade_no)
    with pytest.raises(BusinessRule, match="paid"):
        await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (SimResponse(400, wx_error("PARAM_ERROR", "description 字段超长")), "PARAM_ERROR", 400),
        (SimResponse(403, wx_error("NO_AUTH", "商户无权限")), "NO_AUTH", 403),
        (SimResponse(500, wx_error("SYSTEM_ERROR", "系统错误")), "SYSTEM_ERROR", 500),
        (SimResponse(502, b"<html><body>Bad Gateway</body></html>"), "http_502", 502),
    ],
)
async def test_wechat_errors_reach_the_caller_with_the_provider_code(
    world: World, fault: SimResponse, code: str, status: int
) -> None:
    order = await world.order()
    world.wechat.faults.append(fault)
    with pytest.raises(ChannelError) as caught:
        await start_fiat_payment(world.state, order.id, "wechat", ClientKind.QR)
    assert isinstance(caught.value, UpstreamError) and caught.value.status == 502
    assert caught.value.provider_code == code and caught.value.http_status == status
    assert code in caught.value.message
    [payment] = await world.payments(order.id)
    assert payment.status == "failed"


@pytest.mark.parametrize("channel", ["wechat", "alipay", "quickpay"])
async def test_a_timeout_is_a_clear_error_and_the_payment_stays_watched(world: World, channel: str) -> None:
    order = await world.order()
    getattr(world, channel).faults.append(SimResponse(200, b"{}", delay=TIMEOUT_S + 1))
    with pytest.raises(ChannelError) as caught:
        await start_fiat_payment(world.state, order.id, channel, ClientKind.QR)
    assert caught.value.provider_code == "timeout"
    assert "query the payment before retrying" in caught.value.message
    [payment] = await world.payments(order.id)
    assert payment.status == "pending"  # the query step decides


async def test_alipay_business_error_carries_the_sub_code(world: World) -> None:
    order = await world.order()
    world.alipay.faults.append(
        world.alipay._respond(
            "alipay.trade.precreate",
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.SYSTEM_ERROR",
                "sub_msg": "系统错误",
            },
        )
    )
    with pytest.raises(ChannelError) as caught:
        await start_fiat_payment(world.state, order.id, "alipay", ClientKind.QR)
    assert caught.value.provider_code == "ACQ.SYSTEM_ERROR" and "系统错误" in caught.value.message


async def test_quickpay_error_answer_carries_code_and_message(world: World) -> None:
    order = await world.order()
    world.quickpay.faults.append(world.quickpay._answer("FAILED", "门店已停用"))
    with pytest.raises(ChannelError) as caught:
        await start_fiat_payment(world.state, order.id, "quickpay", ClientKind.QR)
    assert caught.value.provider_code == "FAILED" and "门店已停用" in caught.value.message


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
async def test_a_response_whose_signature_fails_is_not_trusted(world: World, channel: str) -> None:
    order = await world.order()
    getattr(world, channel).faults.append("bad_signature")
    with pytest.raises(ChannelError) as caught:
        await start_fiat_payment(world.state, order.id, channel, ClientKind.QR)
    assert caught.value.provider_code == "bad_signature"


def _request(kind: ClientKind = ClientKind.QR, **extra: str) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no="1000000000000001",
        amount_fen=8888,
        subject="测试",
        kind=kind,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        notify_url="http://127.0.0.1:9/notify",
        **extra,
    )


async def test_simulators_reject_a_request_signed_with_the_wrong_key(
    wechat_sim: WechatSim, alipay_sim: AlipaySim, quickpay_sim: QuickPaySim, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(private_pem(rsa_key("intruder")))
    wechat_wrong = wechat_settings(wechat_sim, tmp_path, merchant_private_key=str(wrong))
    wechat = WechatChannel(wechat_wrong, notify_url="")
    alipay = AlipayChannel(alipay_settings(alipay_sim, app_private_key=str(wrong)), notify_url="")
    quickpay = QuickPayChannel(quickpay_settings(quickpay_sim, store_key="not-the-store-key"), notify_url="")
    expected = {wechat: "SIGN_ERROR", alipay: "isv.invalid-signature", quickpay: "FAILED"}
    for channel, code in expected.items():
        with pytest.raises(ChannelError) as caught:
            await channel.create(_request())
        assert caught.value.provider_code == code
        await channel.aclose()


async def test_wechat_certificate_mode_and_jsapi_pay_sign(wechat_sim: WechatSim, tmp_path: Path) -> None:
    wechat_sim.serial = format(wechat_sim.certificate.serial_number, "X")
    cert_pem = wechat_sim.certificate.public_bytes(Encoding.PEM).decode()
    settings = wechat_settings(
        wechat_sim, tmp_path, verify_mode="certificate", platform_certificates=[cert_pem]
    )
    channel = WechatChannel(settings, notify_url="http://127.0.0.1:9/notify/wechat")
    created = await channel.create(_request(ClientKind.JSAPI, openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))
    params = created.jsapi
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=wx")
    fields = (params["appId"], params["timeStamp"], params["nonceStr"], params["package"])
    message = "".join(f"{value}\n" for value in fields).encode()
    rsa_key("wechat-merchant").public_key().verify(
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
    order = wechat_sim.mark_paid("1000000000000001")
    headers, body = wechat_sim.callback(order)
    event = await channel.parse_callback({k.lower(): v for k, v in headers.items()}, body)
    assert event.amount_fen == 8888 and event.status == "paid"
    await channel.aclose()


async def test_alipay_pay_urls_are_accepted_by_the_gateway(alipay_sim: AlipaySim) -> None:
    channel = AlipayChannel(alipay_settings(alipay_sim), notify_url="http://127.0.0.1:9/notify/alipay")
    for kind in (ClientKind.H5, ClientKind.PAGE):
        created = await channel.create(_request(kind, return_url="https://shop.example/done"))
        async with httpx.AsyncClient() as client:
            opened = await client.get(created.payurl)
        assert opened.status_code == 200 and b"cashier" in opened.content, opened.text
    assert alipay_sim.trades["1000000000000001"].total_amount == "88.88"
    query = await channel.query("1000000000000001")
    assert query is not None and query.status == "pending" and query.amount_fen == 8888
    await channel.aclose()


async def test_quickpay_jsapi_returns_cloudpay_params_and_refunds(quickpay_sim: QuickPaySim) -> None:
    channel = QuickPayChannel(
        quickpay_settings(quickpay_sim), notify_url="http://127.0.0.1:9/notify/quickpay"
    )
    created = await channel.create(_request(ClientKind.JSAPI, openid="o-1", appid="wx1", wallet="wechat"))
    assert created.jsapi["package"].startswith("prepay_id=") and created.channel_trade_no.startswith("LK")
    sent = json.loads(quickpay_sim.requests[-1].body)
    assert sent["paytype"] == 11 and sent["amount"] == 8888 and sent["store_no"] == quickpay_sim.store_no
    quickpay_sim.mark_paid("1000000000000001")
    await channel.refund("1000000000000001", "R1", 100, 8888)
    with pytest.raises(ChannelError):
        await channel.refund("1000000000000001", "R2", 9999, 8888)
    await channel.aclose()
