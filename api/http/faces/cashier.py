"""The cashier face (seed 000): /api/precreate, /api/cashier_info,
/api/get_pay_params, /api/check_order.

Answers are `{success: true, ...}`; failures are `{success: false, msg}`
with an HTTP status saying what kind of failure it is (400 bad input, 403 not
allowed, 404 unknown order, 409 conflict, 422 not possible now, 429 slow
down, 502/503 payment channel or rate unavailable).

`out_trade_no` / `orderId` is the platform order number, so every face
(usdt `plat_order_no`, checkout `order_id`, dryad `orderId`) names the same
order with the same digits.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.types import ASGIApp
from sqlalchemy.engine import Connection

from api.http.answer import JsonAnswer
from api.http.channel_payments import start_fiat_payment
from api.http.client_address import client_source
from api.http.faces import cashier_doc, common, exchange_cashier, payer
from api.http.faces import openapi_doc as doc
from api.http.faces.payer_text import said_for_error, say
from api.http.state import AppState, app_state_of
from api.http.wire import client_ip, read_fields, text_field
from engine import amounts, money
from engine.errors import BadInput, TooManyRequests, UsdtPayError
from engine.exchanges.ports import PLAT_OF
from engine.exchanges.supplement import is_exchange_order
from engine.fiat.channel import ClientKind
from engine.models import Order
from engine.orders.schemas import Currency, NewOrder, OrderStatus

log = logging.getLogger("usdtpay.api.cashier")

FIAT_TYPES = {"wxpay": "wechat", "alipay": "alipay"}
DEVICE_KIND = {"pc": ClientKind.QR, "mobile": ClientKind.H5}
# Seed 000's fields (plus the documented extras order_no and return_url);
# anything else is refused (api.http.wire.read_fields).
PRECREATE_FIELDS = frozenset(("name", "price", "order_no", "return_url"))
PAY_PARAMS_FIELDS = frozenset(("orderId", "type", "device"))
# Alipay's face-to-face code opens the app directly (alipays:// scheme), which
# seed 000 prefers on phones over a wap pay URL; WeChat's phone path is H5.
MOBILE_KIND = {"alipay": ClientKind.QR, "wechat": ClientKind.H5, "quickpay": ClientKind.QR}
STATUS_MSG = {
    "paid": "Paid",
    "pending": "Unpaid",
    "expired": "Expired",
    "failed": "Failed",
    "closed": "Closed",
}


def ok(payload: dict[str, Any]) -> Response[Any]:
    return Response({"success": True, **payload}, status_code=200)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        status = 400 if isinstance(exc, BadInput) else exc.status
        said = said_for_error(exc)  # extra: `code`, and the text in Chinese for the cashier page
        return Response(
            {"success": False, "msg": exc.message, "code": exc.code, "msg_zh": said.zh}, status_code=status
        )
    status, msg = common.unexpected(exc, log)
    return Response(
        {"success": False, "msg": msg, "code": "error", "msg_zh": say("error").zh}, status_code=status
    )


def price_text(order: Order) -> str:
    if order.currency == Currency.CNY:
        return money.format_fen(order.fiat_fen or 0)
    return money.format_usdt(order.usdt_price_units or 0)


def fiat_route(state: AppState, pay_type: str) -> tuple[str, str]:
    """(channel, wallet) for wxpay / alipay: the direct channel when it is
    enabled, else QuickPay, which serves both wallets."""
    direct = FIAT_TYPES[pay_type]
    if direct in state.channels or "quickpay" not in state.channels:
        return direct, ""
    return "quickpay", direct


async def offered_types(state: AppState, order: Order) -> list[str]:
    """The `type` values this order may be paid with, for the page's choice."""
    types: list[str] = []
    if order.currency == Currency.CNY and order.chain is None:
        fiat_enabled = set(state.channels)
        if {"wechat", "quickpay"} & fiat_enabled:
            types.append("wxpay")
        if {"alipay", "quickpay"} & fiat_enabled:
            types.append("alipay")
    if order.chain is not None:  # an exchange order (seed 004 type 2) has nothing to choose
        return [common.USDT_TYPE[order.chain]] if order.chain in common.USDT_TYPE else []
    if order.channel is None:
        types.extend(await state.work.read(usdt_types_offered))
    limit = offer_limit(order)
    return [t for t in types if limit is None or t in limit]


def usdt_types_offered(conn: Connection) -> list[str]:
    """The USDT types of the chains that have an enabled address."""
    return [t for chain, t in common.USDT_TYPE.items() if amounts.enabled_addresses(conn, chain)]


def offer_limit(order: Order) -> list[str] | None:
    """The types the creating face allowed (epay: the EPay `type` asked
    for, or the deployment's cashier choices); None when any may be used."""
    limit = (order.extra or {}).get("offer")
    return [str(t) for t in limit] if isinstance(limit, list) else None


def usdt_fields(order: Order) -> dict[str, Any]:
    assert order.chain is not None
    return {
        "chain": order.chain,
        "chain_label": common.CHAIN_LABEL[order.chain],
        "address": order.address,
        "amount": common.usdt_amount(order),
    }


@post(
    "/api/precreate",
    operation_id="cashierPrecreate",
    summary="Create an order and get its cashier link (seed 000)",
    description="For the merchant's back end: allowed from USDTPAY_API__TRUSTED_NETWORKS, or with "
    "`X-Api-Key: <pid>:<API key>` (or `Authorization: Bearer <pid>:<API key>`; not the signing key).",
    status_code=200,
    operation_class=doc.documented(
        body=doc.obj(
            {
                "name": doc.string("商品名称 (product name)", min_length=1, max_length=256),
                "price": doc.one_of(
                    doc.string(example="0.01"), doc.number(), description="订单金额 (元), 2 decimals"
                ),
                "return_url": doc.string("extra: where the page goes after payment", max_length=1024),
                "order_no": doc.string(
                    "extra: the merchant's own order number, for safe retries", max_length=64
                ),
            },
            required=("name", "price"),
        ),
        body_example={"name": "测试商品", "price": "1.00"},
        answer=doc.obj(
            {"success": doc.boolean(), "out_trade_no": doc.string(), "cashier_url": doc.string()},
            required=("success", "out_trade_no", "cashier_url"),
        ),
        answer_example={
            "success": True,
            "out_trade_no": "1738155990123",
            "cashier_url": "http://localhost:3000/cashier.html?orderId=1738155990123",
        },
        error=doc.obj({"success": doc.boolean(), "msg": doc.string()}, required=("success", "msg")),
        error_example={"success": False, "msg": "price must be greater than zero"},
        error_statuses=(400, 403, 409),
    ),
)
async def precreate(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    fields = await read_fields(request, allowed=PRECREATE_FIELDS)
    merchant = await common.creating_merchant(app_state, request)
    order_no = (
        text_field(fields, "order_no", required=False, max_len=64) or f"cashier-{secrets.token_hex(12)}"
    )
    new = NewOrder(
        face="cashier",
        merchant_order_no=order_no,
        currency=Currency.CNY,
        amount_units=money.parse_amount(fields.get("price"), money.FEN_DECIMALS, field="price"),
        subject=text_field(fields, "name", max_len=256),
        return_url=await common.check_callback_url(
            app_state, text_field(fields, "return_url", required=False, max_len=1024), "return_url"
        ),
        open_create=common.open_create(request),
    )
    order, _ = await app_state.create_order(merchant, new)
    base = app_state.settings.orders.public_base_url.rstrip("/")
    return ok({"out_trade_no": str(order.id), "cashier_url": f"{base}/cashier.html?orderId={order.id}"})


@get(
    "/api/cashier_info",
    operation_id="cashierInfo",
    summary="Order details for the cashier page (seed 000)",
    operation_class=doc.documented(
        parameters=[doc.query("orderId", doc.string("订单号", example="1738155990123"))],
        answer=doc.obj(
            {
                "success": doc.boolean(),
                "data": doc.obj(
                    {
                        "name": doc.string(),
                        "price": doc.string(),
                        "expire_time": doc.integer("expiry, ms since the epoch"),
                        "logo_url": doc.string(),
                        "currency": doc.string(enum=("CNY", "USDT")),
                        "status": doc.string(enum=tuple(STATUS_MSG)),
                        "return_url": doc.string(),
                        "channels": doc.array(doc.string()),
                        "server_time": doc.integer("ms since the epoch"),
                        "chain": doc.string(enum=("tron", "eth", "okx", "binance", "htx")),
                        "chain_label": doc.string(enum=("TRC20", "ERC20", "OKX", "BINANCE", "HTX")),
                        "address": doc.string("where to send: a chain address, or the exchange account"),
                        "amount": doc.string("USDT to send, exactly"),
                        "merchant_name": doc.string("extra: who is being paid"),
                        "exchange": cashier_doc.EXCHANGE,
                        **payer.PAYMENT_DOCS,
                    },
                    required=("name", "price", "expire_time", "logo_url"),
                ),
            },
            required=("success", "data"),
        ),
        answer_example={
            "success": True,
            "data": {
                "name": "VIP会员充值",
                "price": "0.01",
                "expire_time": 1738157790123,
                "logo_url": "/static/logo.svg",
            },
        },
        error=cashier_doc.ERROR,
        error_example={"success": False, "msg": "no order 1738155990123; check the order number"},
    ),
)
async def cashier_info(request: Request[Any, Any, Any]) -> ASGIApp:
    app_state = app_state_of(request)  # as usdt.query: no per-request dependency
    order_id = common.parse_order_id(request.query_params.get("orderId"), "orderId")
    order = await common.load_order(app_state, order_id)
    now = app_state.now()
    data: dict[str, Any] = {
        "name": order.subject,
        "price": price_text(order),
        "expire_time": common.epoch_ms(order.expires_at),
        "logo_url": app_state.settings.api.logo_url,
        "currency": order.currency,
        "status": common.shown_status(order, now),
        "return_url": order.return_url,
        "channels": await offered_types(app_state, order),
        "server_time": common.epoch_ms(now),
    }
    if is_exchange_order(order):
        data |= await exchange_cashier.fields(app_state, order)
    elif order.chain is not None:
        data |= usdt_fields(order)
    # The bytes ok(...) would send, without building a Response (api.http.answer.JsonAnswer).
    return JsonAnswer({"success": True, "data": data | await payer.info_fields(app_state, order)})


@post(
    "/api/get_pay_params",
    operation_id="cashierGetPayParams",
    summary="Pay parameters for the payer's choice (seed 000)",
    description="type alipay / wxpay asks the fiat channel (pc → QR code, mobile → app scheme or pay URL); "
    "usdt_trc20 / usdt_erc20 reserves the order's unique USDT amount on that chain.",
    status_code=200,
    operation_class=doc.documented(
        body=doc.obj(
            {
                "orderId": doc.string("订单号", example="1738155990123"),
                "type": doc.string(
                    "支付方式: the payment the payer picked",
                    enum=("alipay", "wxpay", "usdt_trc20", "usdt_erc20"),
                ),
                "device": doc.string(enum=("pc", "mobile"), description="默认 pc"),
            },
            required=("orderId", "type"),
        ),
        body_example={"orderId": "1738155990123", "type": "alipay", "device": "pc"},
        answer=doc.obj(
            {
                "success": doc.boolean(),
                "data": doc.obj(
                    {
                        "payurl": doc.string(),
                        "qrcode": doc.string(),
                        "urlscheme": doc.string(),
                        "chain": doc.string(),
                        "chain_label": doc.string(),
                        "address": doc.string(),
                        "amount": doc.string(),
                        "expire_time": doc.integer(),
                    },
                    required=("payurl", "qrcode", "urlscheme"),
                ),
            },
            required=("success", "data"),
        ),
        answer_example={
            "success": True,
            "data": {"payurl": "", "qrcode": "https://qr.alipay.com/bax01234", "urlscheme": ""},
        },
        error=cashier_doc.ERROR,
        error_example={"success": False, "msg": "type must be one of alipay, wxpay, usdt_trc20, usdt_erc20"},
        error_statuses=(400, 404, 422, 502, 503),
    ),
)
async def get_pay_params(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    fields = await read_fields(request, allowed=PAY_PARAMS_FIELDS)
    order_id = common.parse_order_id(fields.get("orderId"), "orderId")
    pay_type = text_field(fields, "type", max_len=16)
    device = text_field(fields, "device", required=False, max_len=8) or "pc"
    if device not in DEVICE_KIND:
        raise BadInput("device must be pc or mobile")
    if not app_state.limiter.allow(f"ip:{client_source(request)}"):  # anyone may call it
        raise TooManyRequests("too many requests; slow down and retry with exponential backoff")
    limit = offer_limit(await common.load_order(app_state, order_id))
    if limit is not None and pay_type not in limit:
        raise BadInput(f"this order may be paid with {', '.join(limit) or 'nothing offered'} only")
    if pay_type in common.CHAIN_OF_USDT_TYPE:
        order = await common.load_order(app_state, order_id)
        if order.channel is not None:
            raise BadInput(f"this order is to be paid through {order.channel}; USDT is not offered")
        if is_exchange_order(order):
            plat = PLAT_OF[order.chain or ""]
            raise BadInput(f"this order is paid by a transfer at {plat}; follow the steps on the page")
        order = await common.pick_chain(
            app_state, order_id, common.CHAIN_OF_USDT_TYPE[pay_type], source=client_ip(request)
        )
        data = {"payurl": "", "qrcode": order.address, "urlscheme": ""} | usdt_fields(order)
        return ok({"data": data | {"expire_time": common.epoch_ms(order.expires_at)}})
    if pay_type not in FIAT_TYPES:
        raise BadInput("type must be one of alipay, wxpay, usdt_trc20, usdt_erc20")
    channel, wallet = fiat_route(app_state, pay_type)
    kind = MOBILE_KIND.get(channel, ClientKind.QR) if device == "mobile" else DEVICE_KIND[device]
    payment = await start_fiat_payment(
        app_state, order_id, channel, kind, wallet=wallet, client_ip=client_ip(request)
    )
    created = payment.created
    return ok({"data": {"payurl": created.payurl, "qrcode": created.qrcode, "urlscheme": created.urlscheme}})


@get(
    "/api/check_order",
    operation_id="cashierCheckOrder",
    summary="Payment status: 1 paid, 0 unpaid (seed 000)",
    operation_class=doc.documented(
        parameters=[doc.query("out_trade_no", doc.string("订单号", example="1738155990123"))],
        answer=doc.obj(
            {
                "success": doc.boolean(),
                "status": doc.integer("1 已支付, 0 未支付", enum=(0, 1)),
                "msg": doc.string(),
                "state": doc.string("extra: the order's status", enum=tuple(STATUS_MSG)),
                "return_url": doc.string("extra"),
                **payer.PAYMENT_DOCS,
            },
            required=("success", "status", "msg"),
        ),
        answer_example={"success": True, "status": 1, "msg": "Paid"},
        error=cashier_doc.ERROR,
        error_example={"success": False, "msg": "out_trade_no is required"},
    ),
)
async def check_order(request: Request[Any, Any, Any]) -> ASGIApp:
    app_state = app_state_of(request)  # as usdt.query: no per-request dependency
    order_id = common.parse_order_id(request.query_params.get("out_trade_no"), "out_trade_no")
    order = await common.load_order(app_state, order_id)
    state = common.shown_status(order, app_state.now())
    paid = state == OrderStatus.PAID
    answer = {
        "status": 1 if paid else 0,
        "msg": STATUS_MSG[state],
        "state": state,
        "return_url": order.return_url,
    }
    # `status` stays 0 while a transfer is only seen: the extras say how far it is.
    # The bytes ok(...) would send, without building a Response (api.http.answer.JsonAnswer).
    return JsonAnswer({"success": True, **answer, **await payer.payment_fields(app_state, order)})


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[precreate, cashier_info, get_pay_params, check_order],
        exception_handlers={Exception: error_response},
        tags=["cashier (seed 000)"],
    )
