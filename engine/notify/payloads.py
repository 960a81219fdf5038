"""The notification body of each face, built once when the row is written.

The body is stored as the exact text that will be sent on every attempt,
so a retry repeats the same bytes (and, for usdt and quickpay, the same
signature in the body). dryad signs per attempt in headers: see schemes.py.

Order data comes from engine.models.Order; face-specific values that only
one face knows live in `order.extra`, read flat or under the face's name
(`extra["description"]` or `extra["dryad"]["description"]`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from engine import money
from engine.clock import CHINA
from engine.models import Merchant, Order
from engine.signing import md5_sign, render_value

# The Chinese faces (002, 003) print wall-clock times in China time.

USDT_CHAIN_TYPE = {"tron": 1, "eth": 2}
# Seed 004 type 2 orders name their platform (engine.exchanges.ports.PLAT_OF;
# not imported: the exchanges domain settles through notify).
EXCHANGE_CHAIN_TYPE = {"okx": "OKX", "binance": "BINANCE", "htx": "HTX"}
USDT_STATUS = {"paid": "paid", "expired": "expired", "failed": "failed", "closed": "failed"}
DRYAD_STATUS = {"paid": "SUCCEEDED", "failed": "FAILED", "closed": "CANCELED", "expired": "EXPIRED"}
DRYAD_CHANNEL = {"wechat": "WECHAT", "alipay": "ALIPAY"}
QUICKPAY_STATUS = {"paid": "SUCCESS", "failed": "FAILED", "closed": "CANCELED"}
QUICKPAY_PAYTYPE = {11: "WECHATPAY_JSAPI", 21: "ALIPAY_JSAPI"}  # as JSAPIPay answers it
QUICKPAY_PAYTYPE_BY_CHANNEL = {"wechat": 11, "alipay": 21}


def extra_value(order: Order, name: str, default: Any = "") -> Any:
    extra = order.extra or {}
    if name in extra:
        return extra[name]
    nested = extra.get(order.face)
    if isinstance(nested, dict) and name in nested:
        return nested[name]
    return default


def china_time(when: datetime | None) -> str:
    return when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if when else ""


def dumps(fields: dict[str, Any]) -> str:
    """Compact UTF-8 JSON: the text stored and sent (and, for dryad, signed)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def usdt_body(order: Order, merchant: Merchant) -> str:
    """Seed 004's notify fields, signed with the usdt MD5 signature.

    pid and amounts are strings (money is never a JSON float); chain_type is
    the same integer the create call takes. cny_amount is empty for orders
    priced in USDT (an empty field is outside the signature by the rules).
    """
    units = order.paid_units or order.usdt_units or 0
    fields: dict[str, Any] = {
        "pid": merchant.pid,
        "plat_order_no": str(order.id),
        "order_no": order.merchant_order_no,
        # An exchange transfer (seed 004 type 2) names its platform: OKX, BINANCE, HTX.
        "chain_type": USDT_CHAIN_TYPE.get(order.chain or "") or EXCHANGE_CHAIN_TYPE.get(order.chain or "", 0),
        "amount": money.format_usdt(units),
        "cny_amount": money.format_fen(order.fiat_fen) if order.fiat_fen is not None else "",
        "status": USDT_STATUS.get(order.status, order.status),
        "paytime": int(order.paid_at.timestamp()) if order.paid_at else 0,
        "createtime": int(order.created_at.timestamp()),
        "param": order.param or "",
    }
    fields["signature"] = md5_sign(fields, merchant.key)
    return dumps(fields)


def dryad_body(order: Order, trade_id: int) -> str:
    """Seed 002's callback JSON; the signature travels in headers."""
    return dumps(
        {
            "tradeId": trade_id,
            "orderId": order.id,
            "bizOrderId": order.merchant_order_no,
            "channel": DRYAD_CHANNEL.get(order.channel or "", (order.channel or "").upper()),
            "amount": order.fiat_fen or 0,
            "currency": "CNY",
            "status": DRYAD_STATUS.get(order.status, order.status.upper()),
            "channelTradeNo": order.channel_trade_no or "",
            "paidAt": china_time(order.paid_at),
            "subject": order.subject,
            "description": str(extra_value(order, "description")),
        }
    )


def quickpay_sign(fields: dict[str, Any], key: str) -> str:
    """QuickPay's sorted-parameter MD5 with the key, in the `sign` field
    (the same rule the QuickPay bridge and the served face use)."""
    parts = [
        f"{name}={render_value(value)}"
        for name, value in sorted(fields.items())
        if name != "sign" and value is not None and value != ""
    ]
    text = "&".join([*parts, f"key={key}"])
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def quickpay_paytype(order: Order) -> str:
    given = extra_value(order, "paytype", None)
    code = int(given) if isinstance(given, int | str) and str(given).isdigit() else None
    if code is None:
        code = QUICKPAY_PAYTYPE_BY_CHANNEL.get(order.channel or "", 11)
    return QUICKPAY_PAYTYPE.get(code, str(code))


def quickpay_body(order: Order, merchant: Merchant, trade_id: int) -> str:
    """Seed 003 posts "the result" to notify_url: a PayResultInfo object,
    the shape JSAPIPay answers with (and with the same values the served
    face gave: store_no is the merchant pid, transaction_no the payment id,
    attach and iteminfo as sent), signed like the API in `sign`."""
    fen = order.fiat_fen or 0
    fields: dict[str, Any] = {
        "transaction_status": QUICKPAY_STATUS.get(order.status, order.status.upper()),
        "store_no": str(extra_value(order, "store_no", merchant.pid)),
        "paytype": quickpay_paytype(order),
        "operator": str(extra_value(order, "operator", "WEB")),
        "total_amount": fen,
        "cash_amount": fen,
        "settlement_amount": fen,
        "coupon_amount": 0,
        "order_no": order.merchant_order_no,
        "transaction_no": str(trade_id),
        "transaction_time": china_time(order.paid_at),
        "attach": order.param or str(extra_value(order, "attach")),
        "iteminfo": order.subject or str(extra_value(order, "iteminfo")),
    }
    fields["sign"] = quickpay_sign(fields, merchant.key)
    return dumps(fields)
