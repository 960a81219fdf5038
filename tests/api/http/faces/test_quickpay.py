from __future__ import annotations

import json
from typing import Any

from bridges.quickpay import sign
from tests.api.http.faces.support import Faces, RecordingChannel
from tests.factories import MERCHANT_KEY, MERCHANT_PID

SEED_EXAMPLE = {
    "store_no": "sample string 1",
    "paytype": 10,
    "operator": "sample string 3",
    "appid": "sample string 4",
    "openid": "sample string 5",
    "amount": 6,
    "order_no": "sample string 7",
    "iteminfo": "sample string 8",
    "notify_url": "sample string 9",
    "goods_tag": "sample string 10",
    "share_pay": True,
    "attach": "sample string 12",
    "itemlist": [
        {"item_id": "sample string 1", "item_no": "sample string 2", "item_name": "sample string 3",
         "quantity": 4, "price": 5, "promotion_type": 6},
    ],
}  # fmt: skip
ORDER = {
    **SEED_EXAMPLE,
    "store_no": MERCHANT_PID,
    "paytype": 11,
    "operator": "WEB",
    "appid": "wxd678efh567hg6787",
    "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    "amount": 1000,
    "order_no": "LK100200300-0001",
    "iteminfo": "会员充值",
    "notify_url": "https://93.184.216.34/quickpay/notify",
    "attach": "user=42",
}
RESULT_FIELDS = {
    "transaction_status", "error", "store_no", "paytype", "operator", "bank_type", "total_amount",
    "cash_amount", "settlement_amount", "coupon_amount", "order_no", "transaction_no", "cloudpay_param",
    "transaction_time", "message", "buyer", "attach", "iteminfo", "coupon_detail_list",
}  # fmt: skip


def signed(fields: dict[str, Any], key: str = MERCHANT_KEY) -> dict[str, Any]:
    return {**fields, "sign": sign(fields, key)}


async def pay(f: Faces, body: dict[str, Any]) -> dict[str, Any]:
    resp = await f.client.post("/QuickPay/JSAPIPay", json=body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert set(answer) == {"code", "msg", "data"}
    return answer


async def test_wechat_jsapi_order(faces: Faces) -> None:
    answer = await pay(faces, signed(ORDER))
    assert answer["code"] == "SUCCESS", answer
    data = answer["data"]
    assert set(data) == RESULT_FIELDS
    assert (data["transaction_status"], data["paytype"], data["store_no"]) == (
        "CREATE",
        "WECHATPAY_JSAPI",
        "10001",
    )
    assert (data["total_amount"], data["order_no"], data["attach"], data["buyer"]) == (
        1000, "LK100200300-0001", "user=42", ORDER["openid"],
    )  # fmt: skip
    param = json.loads(data["cloudpay_param"])
    assert param["appId"] == "wxd678efh567hg6787" and param["package"].startswith("prepay_id=")
    sent = faces.channels["wechat"].requests[-1]
    assert (sent.kind, sent.openid, sent.appid, sent.amount_fen) == (
        "jsapi",
        ORDER["openid"],
        ORDER["appid"],
        1000,
    )
    order = await faces.order(int(await order_id_of(faces, data["transaction_no"])))
    assert (order.face, order.notify_url, order.param, order.channel) == (
        "quickpay", ORDER["notify_url"], "user=42", "wechat",
    )  # fmt: skip
    again = await pay(faces, signed(ORDER))
    assert again["data"]["transaction_no"] == data["transaction_no"]


async def order_id_of(f: Faces, transaction_no: str) -> int:
    from engine.models import ChannelPayment

    async with f.db.sessions() as session:
        payment = await session.get(ChannelPayment, int(transaction_no))
        assert payment is not None
        return payment.order_id


async def test_alipay_paytype_and_quickpay_fallback(faces: Faces) -> None:
    body = {**ORDER, "paytype": 21, "appid": "", "openid": "2088102146225135", "order_no": "A-1"}
    answer = await pay(faces, signed(body))
    assert answer["code"] == "SUCCESS" and answer["data"]["paytype"] == "ALIPAY_JSAPI"
    assert faces.channels["alipay"].requests[-1].openid == "2088102146225135"
    quickpay = RecordingChannel("quickpay")
    faces.state.channels = {"quickpay": quickpay}
    answer = await pay(faces, signed({**ORDER, "order_no": "Q-1"}))
    assert answer["code"] == "SUCCESS" and quickpay.requests[-1].wallet == "wechat"


async def test_seed_example_is_answered_with_a_clear_failure(faces: Faces) -> None:
    answer = await pay(faces, signed(SEED_EXAMPLE))  # unknown store "sample string 1"
    assert answer["code"] == "FAILED" and answer["data"] is None and "store_no" in answer["msg"]
    example = {**SEED_EXAMPLE, "store_no": MERCHANT_PID}
    answer = await pay(faces, signed(example))  # paytype 10 is not a documented PayType value
    assert answer["code"] == "FAILED" and "paytype" in answer["msg"]


async def test_bad_sign_and_validation_failures(faces: Faces) -> None:
    tampered = signed(ORDER)
    tampered["amount"] = 1
    assert "sign" in (await pay(faces, tampered))["msg"]
    assert (await pay(faces, signed(ORDER, key="wrong-key-0123456789abcdef")))["code"] == "FAILED"
    assert (await pay(faces, dict(ORDER)))["code"] == "FAILED"  # unsigned
    for bad in (
        {"amount": 0},
        {"amount": 10_000_000_000},
        {"amount": "12.5"},
        {"order_no": ""},
        {"order_no": "x" * 33},
        {"operator": "x" * 17},
        {"attach": "x" * 128},
        {"openid": ""},
        {"appid": ""},
        {"paytype": 31},
        {"itemlist": "nope"},
        {"share_pay": "yes"},
        {"notify_url": "gopher://x"},
    ):
        answer = await pay(faces, signed({**ORDER, **bad}))
        assert answer["code"] == "FAILED" and answer["data"] is None and answer["msg"], bad
    resp = await faces.client.post(
        "/QuickPay/JSAPIPay", content=b"{", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 200 and resp.json()["code"] == "FAILED"
    assert not faces.channels["wechat"].requests


async def test_channel_refusal_is_failed(faces: Faces) -> None:
    faces.channels["wechat"].fail_with = "PARAM_ERROR"
    answer = await pay(faces, signed(ORDER))
    assert answer["code"] == "FAILED" and "PARAM_ERROR" in answer["msg"]
