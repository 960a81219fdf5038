"""The body of each face's notification: the documented fields and types,
and signatures that an independent merchant implementation accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.models import Merchant, Order
from engine.notify import payloads
from tests.factories import order_row
from tests.fakes.merchant_receiver import parse_fields, verify

KEY = "merchant-key-0123456789abcdef"
PAID = datetime(2025, 11, 23, 4, 30, 0, tzinfo=UTC)  # 12:30 in China
CREATED = datetime(2025, 11, 23, 4, 0, 0, tzinfo=UTC)


def merchant() -> Merchant:
    return Merchant(id=1, pid="10001", key=KEY, name="shop", created_at=CREATED)


def order(face: str, **fields: Any) -> Order:
    values: dict[str, Any] = {
        "id": 1234567890123456,
        "merchant_order_no": "ORDER20251123001",
        "face": face,
        "subject": "商品订单支付",
        "currency": "CNY",
        "fiat_fen": 10000,
        "status": "paid",
        "created_at": CREATED,
        "expires_at": CREATED,
        "paid_at": PAID,
        "param": '{"user_id": "123"}',
        "usdt_units": None,
        "usdt_price_units": None,
        "chain": None,
        "address": None,
        **fields,
    }
    return order_row(**values)


def test_usdt_body_has_the_documented_fields_and_a_valid_signature() -> None:
    body = payloads.usdt_body(order("usdt", usdt_units=13_890_001, chain="tron", fiat_fen=10000), merchant())
    fields = json.loads(body)
    assert set(fields) == {
        "pid", "plat_order_no", "order_no", "chain_type", "amount", "cny_amount",
        "status", "paytime", "createtime", "param", "signature",
    }  # fmt: skip
    assert fields["pid"] == "10001"
    assert fields["plat_order_no"] == "1234567890123456"
    assert fields["order_no"] == "ORDER20251123001"
    assert fields["chain_type"] == 1
    assert fields["amount"] == "13.890001"  # money as text, never a float
    assert fields["cny_amount"] == "100.00"
    assert fields["status"] == "paid"
    assert fields["paytime"] == int(PAID.timestamp())
    assert fields["createtime"] == int(CREATED.timestamp())
    assert fields["param"] == '{"user_id": "123"}'
    assert verify("usdt", KEY, {}, body.encode(), parse_fields(body.encode()))
    tampered = parse_fields(body.encode()) | {"amount": "13.890002"}
    assert not verify("usdt", KEY, {}, b"", tampered)
    assert not verify("usdt", "another-key-0123456789", {}, b"", parse_fields(body.encode()))


def test_usdt_body_for_a_usdt_priced_erc20_order() -> None:
    body = payloads.usdt_body(
        order("usdt", usdt_units=5_000_017, paid_units=5_000_017, chain="eth", fiat_fen=None, param=""),
        merchant(),
    )
    fields = json.loads(body)
    assert fields["chain_type"] == 2
    assert fields["amount"] == "5.000017"
    assert fields["cny_amount"] == ""  # unknown for USDT-priced orders, outside the signature
    assert verify("usdt", KEY, {}, body.encode(), parse_fields(body.encode()))


def test_dryad_body_matches_the_seed_example_shape() -> None:
    o = order(
        "dryad", channel="wechat", channel_trade_no="4200001234567890", extra={"description": "购买商品A×1"}
    )
    body = payloads.dryad_body(o, trade_id=9876543210)
    fields = json.loads(body)
    assert fields == {
        "tradeId": 9876543210,
        "orderId": 1234567890123456,
        "bizOrderId": "ORDER20251123001",
        "channel": "WECHAT",
        "amount": 10000,
        "currency": "CNY",
        "status": "SUCCEEDED",
        "channelTradeNo": "4200001234567890",
        "paidAt": "2025-11-23 12:30:00",
        "subject": "商品订单支付",
        "description": "购买商品A×1",
    }
    assert "商品" in body  # UTF-8 text, not \\u escapes: the signed bytes are readable JSON


def test_dryad_description_may_be_nested_under_the_face() -> None:
    o = order("dryad", channel="alipay", extra={"dryad": {"description": "B×1"}})
    fields = json.loads(payloads.dryad_body(o, trade_id=1))
    assert fields["description"] == "B×1"
    assert fields["channel"] == "ALIPAY"


def test_quickpay_body_is_a_signed_pay_result() -> None:
    # what the served face stores: attach in param, iteminfo as the subject
    o = order(
        "quickpay",
        channel="wechat",
        fiat_fen=600,
        subject="tea",
        param="a=1&b=2",
        extra={"paytype": 21, "operator": "T01"},
    )
    body = payloads.quickpay_body(o, merchant(), trade_id=9876543210)
    fields = json.loads(body)
    assert fields["transaction_status"] == "SUCCESS"
    assert fields["store_no"] == "10001"  # the merchant pid is the store number
    assert fields["paytype"] == "ALIPAY_JSAPI"  # as JSAPIPay answered it
    assert fields["operator"] == "T01"
    assert fields["total_amount"] == 600 and isinstance(fields["total_amount"], int)
    assert fields["order_no"] == "ORDER20251123001"
    assert fields["transaction_no"] == "9876543210"
    assert fields["transaction_time"] == "2025-11-23 12:30:00"
    assert fields["attach"] == "a=1&b=2"
    assert fields["iteminfo"] == "tea"
    assert verify("quickpay", KEY, {}, body.encode(), parse_fields(body.encode()))
    assert not verify("quickpay", KEY, {}, b"", parse_fields(body.encode()) | {"total_amount": "601"})


def test_quickpay_paytype_defaults_from_the_channel() -> None:
    fields = json.loads(payloads.quickpay_body(order("quickpay", channel="wechat"), merchant(), trade_id=1))
    assert fields["paytype"] == "WECHATPAY_JSAPI"
    assert fields["operator"] == "WEB"
