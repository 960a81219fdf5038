"""Finding 9: the MD5 `k=v&...` signing string has no escaping, so one
signed string can be read as several field sets. The signed faces accept
only their documented fields, each once, and no value that contains
`&<field>=`: among the requests they accept, no two sign alike.

Each attack sends a correctly signed request and checks the refusal and
that no order was created."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bridges.quickpay import sign as quickpay_sign
from engine.models import Order
from engine.signing import md5_sign
from tests.api.http.faces.support import RecordingChannel
from tests.api.http.security.support import LiveApp, live_app
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, MERCHANT_PID, signed

CREATE = {"pid": MERCHANT_PID, "chain_type": 1, "order_no": "S-1", "amount": "10.00"}
QUICKPAY = {
    "store_no": MERCHANT_PID,
    "paytype": 11,
    "appid": "wxd678efh567hg6787",
    "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    "amount": 1000,
    "order_no": "QS-1",
}


async def orders(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.fixture
async def app(db: Db) -> Any:
    async with live_app(db) as handle:
        handle.state.channels = {"wechat": RecordingChannel("wechat")}
        yield handle


async def test_a_value_that_signs_like_more_fields_is_refused(app: LiveApp, db: Db) -> None:
    """A buyer's note in `param` that reads as a return_url in the string."""
    note = {**CREATE, "param": "gift for mum&return_url=https://evil.example/phish"}
    async with app.client() as client:
        resp = await client.post("/api/pay/create", json=signed(note))
        nested = await client.post(
            "/api/pay/create",
            json=signed({**CREATE, "param": {"memo": "x&amount=0.01"}}),
        )
        key_field = await client.post("/api/pay/create", json=signed({**CREATE, "param": "a&key=b"}))
    for answer in (resp, nested, key_field):
        assert answer.status_code == 422 and answer.json()["code"] == 422, answer.text
        assert "would sign like" in answer.json()["msg"]
    assert await orders(db) == 0


async def test_unknown_fields_cannot_carry_a_split(app: LiveApp, db: Db) -> None:
    """`param=note&zz=1` signs like {param: note, zz: 1}: with unknown
    fields ignored, the split truncates the merchant's param unnoticed."""
    merchant_signed = {**CREATE, "param": "note&zz=1"}
    signature = md5_sign(merchant_signed, MERCHANT_KEY)
    truncated = {**CREATE, "param": "note", "zz": "1", "signature": signature}
    async with app.client() as client:
        resp = await client.post("/api/pay/create", json=truncated)
        query = await client.get(
            "/api/pay/query", params=signed({"pid": MERCHANT_PID, "order_no": "S-1", "_": "1"})
        )
    assert resp.status_code == 422 and "unknown field 'zz'" in resp.json()["msg"], resp.text
    assert query.status_code == 422 and "unknown field '_'" in query.json()["msg"], query.text
    assert await orders(db) == 0


async def test_a_field_given_twice_is_refused(app: LiveApp, db: Db) -> None:
    fields = signed(CREATE)
    form = urlencode([*fields.items(), ("amount", "0.01")])
    async with app.client() as client:
        as_form = await client.post(
            "/api/pay/create",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        body = '{"pid": "10001", "pid": "10001", "chain_type": 1, "order_no": "S-1", "amount": "1"}'
        as_json = await client.post(
            "/api/pay/create", content=body, headers={"content-type": "application/json"}
        )
    for answer in (as_form, as_json):
        assert answer.status_code == 422 and "more than once" in answer.json()["msg"], answer.text
    assert await orders(db) == 0


async def test_quickpay_values_and_fields(app: LiveApp, db: Db) -> None:
    def quickpay_signed(fields: dict[str, Any]) -> dict[str, Any]:
        return {**fields, "sign": quickpay_sign(fields, MERCHANT_KEY)}

    attach = {**QUICKPAY, "attach": "note&notify_url=https://evil.example/steal"}
    split = {**QUICKPAY, "attach": "note", "notify_url": "https://evil.example/steal"}
    assert quickpay_sign(attach, MERCHANT_KEY) == quickpay_sign(split, MERCHANT_KEY)  # the ambiguity
    items = {**QUICKPAY, "itemlist": [{"item_name": "x&amount=1", "quantity": 1, "price": 1}]}
    extra = {**QUICKPAY, "coupon": "FREE"}
    async with app.client() as client:
        answers = [
            (await client.post("/QuickPay/JSAPIPay", json=quickpay_signed(body))).json()
            for body in (attach, items, extra)
        ]
        good = await client.post(
            "/QuickPay/JSAPIPay", json=quickpay_signed({**QUICKPAY, "attach": "user=42"})
        )
    assert [a["code"] for a in answers] == ["FAILED"] * 3
    assert "would sign like" in answers[0]["msg"] and "would sign like" in answers[1]["msg"]
    assert "unknown field 'coupon'" in answers[2]["msg"]
    assert good.json()["code"] == "SUCCESS", good.text  # '=' alone is fine
    assert await orders(db) == 1


async def test_unsigned_faces_take_their_documented_fields_only(app: LiveApp, db: Db) -> None:
    async with app.client() as client:
        cashier = await client.post("/api/precreate", json={"name": "a", "price": "1.00", "notify": "x"})
        dryad = await client.post(
            "/api/pay/wechat/native",
            json={"bizOrderId": "D1", "amount": 1, "subject": "s", "callbackUrl": "https://a.example/n",
                  "channel": "ALIPAY"},
        )  # fmt: skip
        checkout = await client.post("/api/order/info", json={"order_id": "1", "merchant": "x"})
        pay = await client.post("/api/get_pay_params", json={"orderId": "1", "type": "wxpay", "amount": 1})
    assert cashier.status_code == 400 and "unknown field 'notify'" in cashier.json()["msg"]
    assert dryad.status_code == 400 and "unknown field 'channel'" in dryad.json()["msg"]
    assert checkout.status_code == 400 and "unknown field 'merchant'" in checkout.json()["msg"]
    assert pay.status_code == 400 and "unknown field 'amount'" in pay.json()["msg"]
    assert await orders(db) == 0
