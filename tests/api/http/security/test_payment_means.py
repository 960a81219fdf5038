"""Finding 7 (issue 12): an order keeps the payment means its creator chose.
A USDT order (usdt face) is never paid in CNY through the cashier's
get_pay_params, a fiat-channel order (dryad, quickpay face) never gets a
USDT amount or another channel, and the merchant is told what paid."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridges.quickpay import sign
from engine.models import ChannelPayment
from tests.api.http.faces.support import Faces, start_faces
from tests.api.http.security.payments import API_KEY, MERCHANT_NOTIFY, notifications_for, snapshot
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID, signed

USDT_CREATE = {
    "pid": MERCHANT_PID,
    "chain_type": 1,
    "order_no": "USDT-ONLY-1",
    "amount": "100.00",
    "currency": "CNY",
    "notify_url": MERCHANT_NOTIFY,
}
DRYAD_CREATE = {"bizOrderId": "WX-ONLY-1", "amount": 10000, "subject": "商品", "callbackUrl": MERCHANT_NOTIFY}
JSAPI = {
    "store_no": MERCHANT_PID,
    "paytype": 11,
    "appid": "wxd678efh567hg6787",
    "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    "amount": 1000,
    "order_no": "JSAPI-ONLY-1",
    "iteminfo": "会员充值",
    "notify_url": MERCHANT_NOTIFY,
}


@pytest.fixture
async def faces(db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(db):
        yield handle


async def pay_params(f: Faces, order_id: object, pay_type: str, device: str = "pc") -> Any:
    """The payer's (anyone's) call: no key, from the internet."""
    return await f.client.post(
        "/api/get_pay_params", json={"orderId": str(order_id), "type": pay_type, "device": device}
    )


def channel_requests(f: Faces) -> int:
    return sum(len(channel.requests) for channel in f.channels.values())


async def test_usdt_order_cannot_be_paid_in_cny(faces: Faces, db: Db) -> None:
    created = await faces.client.post("/api/pay/create", json=signed(USDT_CREATE))
    assert created.status_code == 200, created.text
    order_id = created.json()["data"]["plat_order_no"]
    before = await snapshot(db)
    for pay_type in ("wxpay", "alipay"):
        for device in ("pc", "mobile"):
            resp = await pay_params(faces, order_id, pay_type, device)
            assert resp.status_code == 422 and resp.json()["success"] is False, resp.text
            assert "USDT" in resp.json()["msg"]
    # Nor on the other chain: the amount shown stays the only one.
    resp = await pay_params(faces, order_id, "usdt_erc20")
    assert resp.status_code == 400 and resp.json()["success"] is False
    assert channel_requests(faces) == 0
    assert await snapshot(db) == before  # no channel payment, same reservation, no outbox row
    info = (await faces.client.get("/api/cashier_info", params={"orderId": order_id})).json()["data"]
    assert info["channels"] == ["usdt_trc20"]


async def test_fiat_order_gets_no_usdt_amount_or_other_channel(faces: Faces, db: Db) -> None:
    created = await faces.client.post("/api/pay/wechat/native", json=DRYAD_CREATE, headers=API_KEY)
    assert created.status_code == 200, created.text
    order_id = created.json()["data"]["orderId"]
    before, asked = await snapshot(db), channel_requests(faces)
    for pay_type in ("usdt_trc20", "usdt_erc20", "alipay"):
        resp = await pay_params(faces, order_id, pay_type)
        assert 400 <= resp.status_code < 500 and resp.json()["success"] is False, (pay_type, resp.text)
    assert channel_requests(faces) == asked
    assert await snapshot(db) == before
    assert not before.reservations
    # Its own channel still works, and the merchant is told that channel paid.
    assert (await pay_params(faces, order_id, "wxpay")).status_code == 200
    await faces.pay_fiat(order_id)
    [note] = await notifications_for(db, order_id)
    assert json.loads(note.body)["channel"] == "WECHAT"


async def test_quickpay_face_order_gets_no_usdt_amount(faces: Faces, db: Db) -> None:
    resp = await faces.client.post("/QuickPay/JSAPIPay", json={**JSAPI, "sign": sign(JSAPI, MERCHANT_KEY)})
    assert resp.status_code == 200 and resp.json()["code"] == "SUCCESS", resp.text
    order_id = resp.json()["data"]["transaction_no"]
    async with db.sessions() as session:
        payment = await session.get(ChannelPayment, int(order_id))
        assert payment is not None
        order_id = payment.order_id
    before = await snapshot(db)
    for pay_type in ("usdt_trc20", "alipay"):
        resp = await pay_params(faces, order_id, pay_type)
        assert 400 <= resp.status_code < 500 and resp.json()["success"] is False, (pay_type, resp.text)
    assert await snapshot(db) == before and not before.reservations
