"""The epay face's request side: reading EPay fields, authenticating the
merchant (pid + MD5 `sign`, or the raw key on api.php), and turning a
create request into an engine NewOrder.

Every field the client sent is kept as the exact text it sent, because the
signature covers all of them, including ones usdtpay has no use for
(`sitename`, `clientip`, `device`, anything else).
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from litestar import Request

from api.http import signed_limits
from api.http.faces import common
from api.http.state import AppState
from engine import epay, money
from engine.errors import BadInput, BusinessRule, Forbidden, PayloadTooLarge
from engine.models import Merchant
from engine.orders.schemas import Currency, NewOrder

MAX_BODY = 64 * 1024
MAX_FIELDS = 64
MAX_VALUE = 4096
# Stock EPay's own rule for out_trade_no, with a length cap.
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9._\-|]{1,64}")
# Fields that describe this request rather than the order: a retried create
# may differ in them and still name the same order.
REQUEST_ONLY = frozenset({"sign", "sign_type", "clientip", "device"})
KNOWN = frozenset(
    {"pid", "type", "out_trade_no", "notify_url", "return_url", "name", "money", "param", "sitename"}
)
# EPay type names -> the cashier page's (seed 000) names.
CASHIER_NAME = {"alipay": "alipay", "wxpay": "wxpay", "usdt.trc20": "usdt_trc20", "usdt.erc20": "usdt_erc20"}
UNKNOWN_KEY = "\x00no-such-merchant"


class UnknownPid(Forbidden):
    code = "unknown_pid"


class BadKey(Forbidden):
    code = "bad_key"


Fields = dict[str, str]


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise BadInput("parameters are not UTF-8 text") from exc
    except ValueError as exc:
        raise BadInput(f"at most {MAX_FIELDS} parameters are accepted") from exc


def _json_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        data = json.loads(body, parse_float=str, parse_int=str)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput("the body is neither a form nor a JSON object") from exc
    if not isinstance(data, dict):
        raise BadInput("the body must be a form or a JSON object of text values")
    pairs = []
    for name, value in data.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadInput(f"{name[:40]} must be text")
        pairs.append((name, value))
    return pairs


def _checked(pairs: list[tuple[str, str]]) -> Fields:
    if len(pairs) > MAX_FIELDS:
        raise BadInput(f"at most {MAX_FIELDS} parameters are accepted")
    fields: Fields = {}
    for name, value in pairs:
        if name in fields:
            # PHP would keep the last one; a signature over either is ambiguous.
            raise BadInput(f"parameter {name[:40]!r} is given more than once")
        if len(name) > 64 or len(value) > MAX_VALUE:
            raise BadInput(f"parameter {name[:40]!r} is too long")
        fields[name] = value
    return fields


async def read_fields(request: Request[Any, Any, Any]) -> Fields:
    """GET: the query. POST: the form (urlencoded or multipart) or a JSON
    object; an empty body falls back to the query. The handlers cap the
    body at MAX_BODY (request_max_body_size), so Litestar refuses a larger
    one with 413 before it is read."""
    query = request.scope.get("query_string", b"")
    try:
        query_text = query.decode("utf-8") if isinstance(query, bytes) else str(query)
    except UnicodeDecodeError as exc:
        raise BadInput("parameters are not UTF-8 text") from exc
    if request.method == "GET":
        return _checked(_pairs(query_text))
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY} bytes")
    if not body.strip():
        return _checked(_pairs(query_text))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        items = list((await request.form()).multi_items())
        pairs = [(k, v) for k, v in items if isinstance(v, str)]
        if len(pairs) != len(items):
            raise BadInput("file uploads are not accepted")
        return _checked(pairs)
    if content_type == "application/json":
        return _checked(_json_pairs(body))
    try:
        return _checked(_pairs(body.decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise BadInput("the form is not UTF-8 text") from exc


def sign_modes(state: AppState) -> tuple[str, ...]:
    mode = state.settings.epay.sign_mode
    return epay.SIGN_MODES if mode == "either" else (mode,)


async def _merchant(state: AppState, pid: str, *, fresh: bool = False) -> Merchant | None:
    if not pid or len(pid) > 32:
        return None
    return await state.merchants.get(state.sessions, pid, fresh=fresh)


async def _signed(state: AppState, fields: Fields) -> tuple[Merchant, str]:
    pid = fields.get("pid", "")
    sign_type = fields.get("sign_type", "")
    if sign_type and sign_type.upper() != "MD5":
        raise BadInput(f"sign_type must be MD5, got {sign_type[:16]!r}")
    modes = sign_modes(state)
    merchant = await _merchant(state, pid)
    key = merchant.key if merchant is not None else UNKNOWN_KEY
    mode = epay.verify(fields, key, fields.get("sign"), modes)
    if merchant is not None and mode is None:
        # The cached key may just have been changed: check once against the database.
        merchant = await _merchant(state, pid, fresh=True)
        mode = epay.verify(fields, merchant.key, fields.get("sign"), modes) if merchant else None
    if merchant is None:
        raise UnknownPid(f"PID不存在 (unknown merchant pid {pid[:32]!r})")
    if mode is None:
        raise Forbidden("签名校验失败 (bad sign: see the README's EPay-compatible shops section)")
    return merchant, mode


async def _keyed(state: AppState, fields: Fields) -> Merchant:
    pid = fields.get("pid", "")
    merchant = await _merchant(state, pid)
    given = fields["key"].encode()
    expected = merchant.key.encode() if merchant is not None else UNKNOWN_KEY.encode()
    if merchant is not None and not hmac.compare_digest(expected, given):
        merchant = await _merchant(state, pid, fresh=True)
        expected = merchant.key.encode() if merchant is not None else UNKNOWN_KEY.encode()
    if merchant is None:
        raise UnknownPid(f"PID不存在 (unknown merchant pid {pid[:32]!r})")
    if not hmac.compare_digest(expected, given):
        raise BadKey("KEY校验失败 (the key does not match this pid)")
    return merchant


@signed_limits.counts_failures
async def authenticate(
    state: AppState, request: Request[Any, Any, Any], fields: Fields
) -> tuple[Merchant, str]:
    """The merchant and the signature mode its `sign` verified with. As on
    the other signed faces, failures count against the source address and
    only verified requests against the merchant (api.http.signed_limits)."""
    signed_limits.check_source(state, request)
    merchant, mode = await _signed(state, fields)
    signed_limits.charge(state, merchant.pid)
    return merchant, mode


@signed_limits.counts_failures
async def authenticate_query(state: AppState, request: Request[Any, Any, Any], fields: Fields) -> Merchant:
    """api.php: the raw merchant key in `key`, as EPay clients send it, or
    a `sign` over the query instead."""
    signed_limits.check_source(state, request)
    if fields.get("key"):
        merchant = await _keyed(state, fields)
    elif fields.get("sign"):
        merchant, _ = await _signed(state, fields)
    else:
        raise BadKey("KEY校验失败 (send key=<merchant key>, or sign the query)")
    signed_limits.charge(state, merchant.pid)
    return merchant


@dataclass(frozen=True)
class Route:
    """How an EPay type is paid: a chain, a fiat channel (and QuickPay's
    wallet), or neither (the payer picks); `offer` limits the cashier page."""

    chain: str | None
    channel: str | None
    wallet: str
    offer: tuple[str, ...]


def fiat_channel(state: AppState, pay_type: str) -> tuple[str, str]:
    """The direct channel when enabled, else QuickPay for that wallet."""
    direct = epay.FIAT_TYPES[pay_type]
    if direct in state.channels:
        return direct, ""
    if "quickpay" in state.channels:
        return "quickpay", direct
    raise BusinessRule(f"本站未开通 {pay_type} (type {pay_type} is not enabled here; try another type)")


def route_for(state: AppState, pay_type: str) -> Route:
    name = pay_type.lower()
    if name == epay.USDT_TYPE and state.settings.epay.usdt_chain != "pick":
        name = epay.PAID_TYPE_BY_CHAIN[state.settings.epay.usdt_chain]
    if name in epay.CHAIN_TYPES:
        chain = epay.CHAIN_TYPES[name]
        return Route(chain, None, "", (common.USDT_TYPE[chain],))
    if name in epay.FIAT_TYPES:
        channel, wallet = fiat_channel(state, name)
        return Route(None, channel, wallet, (CASHIER_NAME[name],))
    if name == epay.USDT_TYPE:  # usdt_chain = pick
        return Route(None, None, "", tuple(common.USDT_TYPE.values()))
    choices = tuple(CASHIER_NAME[c] for c in state.settings.epay.cashier_choices)
    return Route(None, None, "", choices)


def _text(fields: Fields, name: str, *, required: bool = True, max_len: int = 256) -> str:
    value = fields.get(name, "")
    if required and not value:
        raise BadInput(f"{name} 不能为空 ({name} is required)")
    if len(value) > max_len:
        raise BadInput(f"{name} is longer than {max_len} characters")
    return value


def return_relay(state: AppState, merchant: Merchant, out_trade_no: str) -> str:
    """Where the payer goes after paying: usdtpay's relay, which sends the
    browser on to the merchant's return_url, signed, once the order is paid."""
    base = state.settings.orders.public_base_url.rstrip("/")
    return (
        f"{base}/epay/return?pid={quote(merchant.pid, safe='')}&out_trade_no={quote(out_trade_no, safe='')}"
    )


async def new_order(state: AppState, merchant: Merchant, fields: Fields, mode: str) -> tuple[NewOrder, Route]:
    out_trade_no = _text(fields, "out_trade_no", max_len=64)
    if not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise BadInput(
            "订单号(out_trade_no)格式不正确: letters, digits and . _ - | only, at most 64; "
            f"got {out_trade_no!r}"
        )
    pay_type = _text(fields, "type", required=False, max_len=32)
    name = _text(fields, "name")
    money_text = _text(fields, "money", max_len=20)
    fen = money.parse_amount(money_text, money.FEN_DECIMALS, field="money")
    notify_url = await common.check_notify_target(
        state, _text(fields, "notify_url", max_len=1024), "notify_url"
    )
    return_url = await common.check_callback_url(
        state, _text(fields, "return_url", required=False, max_len=1024), "return_url"
    )
    param = _text(fields, "param", required=False, max_len=MAX_VALUE)
    route = route_for(state, pay_type)
    saved = {
        "type": pay_type,
        "name": name,
        "money": money_text,
        "param": param,
        "return_url": return_url,
        "sitename": fields.get("sitename", ""),
        "sign_mode": mode,
        # Unknown extras are signed by the client, so they belong to the order.
        "extras": {k: v for k, v in sorted(fields.items()) if k not in KNOWN | REQUEST_ONLY},
    }
    new = NewOrder(
        face="epay",
        merchant_order_no=out_trade_no,
        currency=Currency.CNY,
        amount_units=fen,
        chain=route.chain,
        channel=route.channel,
        subject=name,
        notify_url=notify_url,
        return_url=return_relay(state, merchant, out_trade_no) if return_url else "",
        param=param,
        extra={"epay": saved, "offer": list(route.offer)},
    )
    return new, route
