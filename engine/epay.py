"""EPay V1 (彩虹易支付) rules shared by the epay face and the notifier.

Signature: take every field except `sign` and `sign_type`, drop the empty
ones, sort by key in ASCII (byte) order, join `k=v` with `&` with the values
as they are (not URL-encoded), append the merchant key directly
(`plain`, the EPay SDK's rule) or as `&key=<key>` (`key`, a variant some
clones use), and write the MD5 of the UTF-8 bytes as lower-case hex.

The order keeps what the merchant sent under `extra["epay"]` (the type,
name and money text exactly as signed, param, the return URL and the
signature mode that verified), so the notification and the return URL
carry the very strings the merchant signed, signed the way it signs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from engine import money
from engine.models import Merchant, Order

SIGN_MODES = ("plain", "key")
EXCLUDED = frozenset({"sign", "sign_type"})
SUCCESS = "TRADE_SUCCESS"
# The notification's fields, in the order they are sent.
NOTIFY_FIELDS = ("pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "param")

# EPay type names usdtpay serves, and what each one pays with.
CHAIN_TYPES = {"usdt.trc20": "tron", "trc20": "tron", "usdt.erc20": "eth", "erc20": "eth"}
FIAT_TYPES = {"alipay": "alipay", "wxpay": "wechat"}
USDT_TYPE = "usdt"  # the chain is a setting (epay.usdt_chain)
# What a payer who picked at the cashier paid with, in EPay names.
PAID_TYPE_BY_CHAIN = {"tron": "usdt.trc20", "eth": "usdt.erc20"}
PAID_TYPE_BY_WALLET = {"alipay": "alipay", "wechat": "wxpay"}


def signing_string(fields: Mapping[str, str]) -> str:
    pairs = sorted((name, value) for name, value in fields.items() if name not in EXCLUDED and value != "")
    # Python sorts str by code point, which for ASCII keys is PHP ksort's byte order.
    return "&".join(f"{name}={value}" for name, value in pairs)


def sign(fields: Mapping[str, str], key: str, mode: str = "plain") -> str:
    if mode not in SIGN_MODES:
        raise ValueError(f"EPay signature mode must be one of {SIGN_MODES}, got {mode!r}")
    text = signing_string(fields)
    text += key if mode == "plain" else f"&key={key}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def verify(fields: Mapping[str, str], key: str, given: object, modes: Iterable[str]) -> str | None:
    """The mode whose signature equals `given` (constant time, any letter
    case), or None. Every mode is computed, so timing says nothing about
    which one came close."""
    if not isinstance(given, str) or not given.isascii() or len(given) != 32:
        given = ""
    found = None
    for mode in modes:
        if hmac.compare_digest(sign(fields, key, mode).encode(), given.lower().encode()) and given:
            found = found or mode
    return found


def saved(order: Order) -> dict[str, Any]:
    """What the merchant sent, as stored at creation (empty for other faces)."""
    value = (order.extra or {}).get("epay")
    return value if isinstance(value, dict) else {}


def paid_type(order: Order, wallet: str = "") -> str:
    """The `type` to report: the merchant's own type when it named a way to
    pay, else (the payer picked at the cashier) what the payer used."""
    sent = str(saved(order).get("type", ""))
    if sent.lower() in CHAIN_TYPES or sent.lower() in FIAT_TYPES or sent.lower() == USDT_TYPE:
        return sent
    if order.chain is not None:
        return PAID_TYPE_BY_CHAIN.get(order.chain, sent)
    channel = wallet if order.channel == "quickpay" else (order.channel or "")
    return PAID_TYPE_BY_WALLET.get(channel, sent)


def money_text(order: Order) -> str:
    """The money text as the merchant signed it; for orders of other faces,
    the price in yuan (or USDT) with two or six decimals."""
    text = saved(order).get("money")
    if isinstance(text, str) and text:
        return text
    if order.currency == "CNY":
        return money.format_fen(order.fiat_fen or 0)
    return money.format_usdt(order.usdt_price_units or 0)


def result_fields(order: Order, merchant: Merchant, wallet: str = "") -> dict[str, str]:
    """The signed TRADE_SUCCESS fields of the notification and the return
    URL, in NOTIFY_FIELDS order, then sign and sign_type."""
    data = saved(order)
    fields = {
        "pid": merchant.pid,
        "trade_no": str(order.id),
        "out_trade_no": order.merchant_order_no,
        "type": paid_type(order, wallet),
        "name": str(data.get("name", order.subject)),
        "money": money_text(order),
        "trade_status": SUCCESS,
        "param": str(data.get("param", order.param)),
    }
    mode = data.get("sign_mode")
    fields["sign"] = sign(fields, merchant.key, mode if mode in SIGN_MODES else "plain")
    fields["sign_type"] = "MD5"
    return fields


def query_string(fields: Mapping[str, str]) -> str:
    """Percent-encoded (spaces as %20), so PHP's $_GET and every other
    decoder give back the exact signed text."""
    return urlencode(list(fields.items()), quote_via=quote, safe="")


def with_query(url: str, query: str) -> str:
    """`url` with `query` appended (after `&` when it already has one),
    before any fragment."""
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def notification_body(order: Order, merchant: Merchant, wallet: str = "") -> str:
    """The stored body of an epay notification: the query string the
    notifier appends to notify_url on every attempt."""
    return query_string(result_fields(order, merchant, wallet))
