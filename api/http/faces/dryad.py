"""The dryad face (seed 002): WeChat Native and Alipay face-to-face QR
orders, order and latest-transaction queries, and the health check.

Every answer is `{code, msg, data}` with the HTTP status equal to `code`:
200, 400 (bad input, duplicate bizOrderId with other parameters, order not
payable), 403 (caller not allowed to create), 404 (unknown order), 429
(slow down), 500 (the channel refused: "支付创建失败: ..."). Ids are JSON
numbers below 2^53. Times are "YYYY-MM-DD HH:MM:SS" in settings.timezone.
"""

from __future__ import annotations

import logging
from typing import Any

import segno
from litestar import Request, Response, Router, get, post

from api.http import health
from api.http.channel_payments import start_fiat_payment
from api.http.faces import common
from api.http.faces import openapi_doc as doc
from api.http.state import AppState
from api.http.wire import client_ip, read_fields, text_field
from engine.errors import BadInput, BusinessRule, Conflict, NotFound, Unavailable, UpstreamError, UsdtPayError
from engine.exchanges.ports import PLAT_OF
from engine.fiat.channel import ClientKind
from engine.models import ChannelPayment, Order
from engine.orders.schemas import Currency, NewOrder

log = logging.getLogger("usdtpay.api.dryad")

EXPIRE_MINUTES = 120  # the seed: expireAt is 2 hours after creation
MAX_FEN = 10**12
ORDER_STATUS = {
    "pending": "PENDING",
    "paid": "SUCCEEDED",
    "failed": "FAILED",
    "closed": "CANCELED",
    "expired": "EXPIRED",
}
PAYMENT_STATUS = {**ORDER_STATUS, "refunded": "CANCELED"}
CHANNEL = {"wechat": "WECHAT", "alipay": "ALIPAY", "quickpay": "QUICKPAY"}
CHAIN_CHANNEL = {"tron": "USDT_TRC20", "eth": "USDT_ERC20"}
CLIENT_TYPE = {"qr": "NATIVE", "h5": "H5", "page": "PAGE", "jsapi": "JSAPI"}
OK_MSG = "操作成功"
# Seed 002's create fields; anything else is refused (api.http.wire.read_fields).
CREATE_FIELDS = frozenset(("bizOrderId", "amount", "subject", "description", "callbackUrl"))


def envelope(data: Any, *, code: int = 200, msg: str = OK_MSG, status: int | None = None) -> Response[Any]:
    return Response({"code": code, "msg": msg, "data": data}, status_code=status or code)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UpstreamError | Unavailable):
        return envelope(None, code=500, msg=f"支付创建失败: {exc.message}")
    if isinstance(exc, BadInput | BusinessRule | Conflict):
        return envelope(None, code=400, msg=exc.message)
    if isinstance(exc, UsdtPayError):
        return envelope(None, code=exc.status, msg=exc.message)
    status, msg = common.unexpected(exc, log)
    return envelope(None, code=status, msg=msg)


def fen_field(value: object) -> int:
    """`amount`: integer fen, as a JSON integer (or its digits as text)."""
    text = value if isinstance(value, str) else ""
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        raise BadInput("amount must be an integer number of fen, e.g. 10000 for 100 yuan")
    amount = int(text)
    if not 0 < amount <= MAX_FEN:
        raise BadInput(f"amount must be between 1 and {MAX_FEN} fen")
    return amount


def qr_base64(content: str) -> str:
    return segno.make(content, error="m").png_data_uri(scale=5, border=2) if content else ""


def payment_qr(payment: ChannelPayment) -> str:
    created = payment.pay_data.get("created") or {}
    return qr_base64(str(created.get("qrcode") or created.get("payurl") or ""))


def order_channel(order: Order) -> str | None:
    if order.chain is not None:
        return CHAIN_CHANNEL.get(order.chain) or PLAT_OF.get(order.chain)  # an exchange: its platform
    return CHANNEL.get(order.channel or "")


async def dryad_status(state: AppState, order: Order, latest: ChannelPayment | None) -> str:
    status = common.shown_status(order, state.now())
    if status == "pending" and latest is None and order.chain is None:
        return "INIT"  # nothing has been asked of a channel yet
    return ORDER_STATUS[status]


async def parse_create(
    fields: dict[str, Any], state: AppState, channel: str, *, open_create: bool
) -> NewOrder:
    order_no = text_field(fields, "bizOrderId", max_len=64)
    callback = await common.check_notify_target(
        state, text_field(fields, "callbackUrl", max_len=1024), "callbackUrl"
    )
    description = text_field(fields, "description", required=False, max_len=512)
    return NewOrder(
        face="dryad",
        merchant_order_no=order_no,
        currency=Currency.CNY,
        amount_units=fen_field(fields.get("amount")),
        channel=channel,
        subject=text_field(fields, "subject", max_len=256),
        notify_url=callback,
        extra={"description": description} if description else {},
        open_create=open_create,
    )


def qr_route(state: AppState, wallet: str) -> tuple[str, str]:
    """The direct channel when enabled, else QuickPay's QR for that wallet."""
    if wallet in state.channels or "quickpay" not in state.channels:
        return wallet, ""
    return "quickpay", wallet


async def create_payment(request: Request[Any, Any, Any], state: AppState, wallet: str) -> Response[Any]:
    fields = await read_fields(request, allowed=CREATE_FIELDS)
    merchant = await common.creating_merchant(state, request)
    channel, quickpay_wallet = qr_route(state, wallet)
    new = await parse_create(fields, state, channel, open_create=common.open_create(request))
    orders = state.settings.orders.model_copy(update={"expire_minutes": EXPIRE_MINUTES})
    order, _ = await state.create_order(merchant, new, orders=orders)
    payment = await start_fiat_payment(
        state, order.id, channel, ClientKind.QR, wallet=quickpay_wallet, client_ip=client_ip(request)
    )
    created = payment.created
    data = {
        "orderId": order.id,
        "transactionId": payment.payment_id,
        "status": "PENDING",
        "qrBase64": qr_base64(created.qrcode or created.payurl),
        "expireAt": common.local_text(state, order.expires_at),
    }
    return envelope(data)


CREATE_BODY = doc.obj(
    {
        "bizOrderId": doc.string("业务订单号(唯一标识)", min_length=1, max_length=64),
        "amount": doc.integer("支付金额(单位:分)", minimum=1, maximum=MAX_FEN),
        "subject": doc.string("订单标题", min_length=1, max_length=256),
        "description": doc.string("订单描述", max_length=512),
        "callbackUrl": doc.string("业务回调地址", min_length=1, max_length=1024),
    },
    required=("bizOrderId", "amount", "subject", "callbackUrl"),
)
ERROR = doc.obj({"code": doc.integer(), "msg": doc.string(), "data": doc.null()})
ERROR_EXAMPLE = {"code": 500, "msg": "支付创建失败: 微信下单失败", "data": None}


def envelope_of(data: doc.Schema) -> doc.Schema:
    fields = {"code": doc.integer(), "msg": doc.string(), "data": data}
    return doc.obj(fields, required=("code", "msg", "data"))


CREATED = envelope_of(
    doc.obj(
        {
            "orderId": doc.integer("支付订单ID"),
            "transactionId": doc.integer("交易流水ID"),
            "status": doc.string(enum=("PENDING",)),
            "qrBase64": doc.string("data:image/png;base64,..."),
            "expireAt": doc.string("YYYY-MM-DD HH:MM:SS"),
        },
        required=("orderId", "transactionId", "status", "qrBase64", "expireAt"),
    )
)


def _create_doc(biz_order_id: str) -> type[doc.Operation]:
    return doc.documented(
        body=CREATE_BODY,
        body_example={
            "bizOrderId": biz_order_id,
            "amount": 10000,
            "subject": "商品订单支付",
            "description": "购买商品A×1",
            "callbackUrl": "https://your-domain.com/notify",
        },
        answer=CREATED,
        answer_example={
            "code": 200,
            "msg": OK_MSG,
            "data": {
                "orderId": 1234567890,
                "transactionId": 9876543210,
                "status": "PENDING",
                "qrBase64": "data:image/png;base64,...",
                "expireAt": "2025-11-23 14:00:00",
            },
        },
        error=ERROR,
        error_example=ERROR_EXAMPLE,
        error_statuses=(400, 403, 500),
    )


AUTH_NOTE = (
    "Allowed from USDTPAY_API__TRUSTED_NETWORKS, or with `X-Api-Key: <pid>:<API key>` "
    "(or `Authorization: Bearer <pid>:<key>`)."
)


@post(
    "/api/pay/wechat/native",
    operation_id="dryadWechatNative",
    summary="WeChat Native QR payment (seed 002)",
    description=AUTH_NOTE,
    status_code=200,
    operation_class=_create_doc("ORDER20251123001"),
)
async def wechat_native(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await create_payment(request, app_state, "wechat")


@post(
    "/api/pay/alipay/precreate",
    operation_id="dryadAlipayPrecreate",
    summary="Alipay face-to-face QR payment (seed 002)",
    description=AUTH_NOTE,
    status_code=200,
    operation_class=_create_doc("ORDER20251123002"),
)
async def alipay_precreate(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await create_payment(request, app_state, "alipay")


def order_data(
    state: AppState, order: Order, latest: ChannelPayment | None, status: str, *, owner: bool
) -> dict[str, Any]:
    # A channel trade number is what a forged channel callback needs: only
    # the order's merchant reads it. A tx hash is public on the chain anyway.
    fiat_trade_no = order.channel_trade_no or (latest.channel_trade_no if latest else None)
    trade_no = (fiat_trade_no if owner else None) if order.tx_hash is None else order.tx_hash
    return {
        "id": order.id,
        "bizOrderId": order.merchant_order_no,
        "amount": common.amount_cents(order),
        "currency": order.currency,
        "channel": order_channel(order),
        "status": status,
        "subject": order.subject,
        "channelTradeNo": trade_no,
        "paidAt": common.local_text(state, order.paid_at),
        "expireAt": common.local_text(state, order.expires_at),
        "createdAt": common.local_text(state, order.created_at),
    }


async def load(state: AppState, order_id: str) -> tuple[Order, ChannelPayment | None]:
    order = await common.load_order(state, common.parse_order_id(order_id, "orderId"))
    async with state.sessions() as session:
        latest = await common.latest_payment(session, order.id)
    return order, latest


S, Int = doc.string, doc.integer
ORDER_EXAMPLE = {
    "id": 1234567890,
    "bizOrderId": "ORDER20251123001",
    "amount": 10000,
    "currency": "CNY",
    "channel": "WECHAT",
    "status": "SUCCEEDED",
    "subject": "商品订单支付",
    "channelTradeNo": "4200001234567890",
    "paidAt": "2025-11-23 12:30:00",
    "expireAt": "2025-11-23 14:00:00",
    "createdAt": "2025-11-23 12:00:00",
}


@get(
    "/api/pay/orders/{orderId:str}",
    operation_id="dryadGetOrder",
    summary="Order status (seed 002)",
    operation_class=doc.documented(
        answer=envelope_of(
            doc.obj(
                {
                    "id": Int(),
                    "bizOrderId": S(),
                    "amount": Int("金额(分)"),
                    "currency": S(),
                    "channel": doc.nullable(S()),
                    "status": S(enum=("INIT", "PENDING", "SUCCEEDED", "FAILED", "CANCELED", "EXPIRED")),
                    "subject": S(),
                    "channelTradeNo": doc.nullable(
                        S("渠道交易号; a fiat trade number only for the order's merchant (X-Api-Key)")
                    ),
                    "paidAt": doc.nullable(S()),
                    "expireAt": S(),
                    "createdAt": S(),
                }
            )
        ),
        answer_example={"code": 200, "msg": OK_MSG, "data": ORDER_EXAMPLE},
        error=ERROR,
        error_example={"code": 404, "msg": "no order 1234567890; check the order number", "data": None},
    ),
)
async def get_order(orderId: str, request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order, latest = await load(app_state, orderId)
    status = await dryad_status(app_state, order, latest)
    owner = await common.owner_reading(app_state, request, order)
    return envelope(order_data(app_state, order, latest, status, owner=owner))


@get(
    "/api/pay/orders/{orderId:str}/transactions/latest",
    operation_id="dryadLatestTransaction",
    summary="The order's latest transaction, with its QR code (seed 002)",
    operation_class=doc.documented(
        answer=envelope_of(
            doc.obj(
                {
                    "id": doc.nullable(Int("交易流水ID; null unless the order's merchant asks (X-Api-Key)")),
                    "orderId": Int(),
                    "channel": S(),
                    "clientType": S(),
                    "status": S(),
                    "qrBase64": S(),
                    "createdAt": S(),
                }
            )
        ),
        answer_example={
            "code": 200,
            "msg": OK_MSG,
            "data": {
                "id": 9876543210,
                "orderId": 1234567890,
                "channel": "WECHAT",
                "clientType": "NATIVE",
                "status": "PENDING",
                "qrBase64": "...",
                "createdAt": "2025-11-23 12:00:00",
            },
        },
        error=ERROR,
        error_example={"code": 404, "msg": "order 1234567890 has no transaction yet", "data": None},
    ),
)
async def latest_transaction(
    orderId: str, request: Request[Any, Any, Any], app_state: AppState
) -> Response[Any]:
    order, latest = await load(app_state, orderId)
    if latest is None:
        raise NotFound(f"order {order.id} has no channel transaction yet")
    owner = await common.owner_reading(app_state, request, order)
    data = {
        # The payment id is the channel's out_trade_no: the owner's only.
        "id": latest.id if owner else None,
        "orderId": order.id,
        "channel": CHANNEL.get(latest.channel, latest.channel.upper()),
        "clientType": CLIENT_TYPE.get(latest.client_type, latest.client_type.upper()),
        "status": PAYMENT_STATUS.get(latest.status, latest.status.upper()),
        "qrBase64": payment_qr(latest),
        "createdAt": common.local_text(app_state, latest.created_at),
    }
    return envelope(data)


@get(
    "/api/health",
    operation_id="dryadHealth",
    summary="Health: database, watchers, rate (seed 002)",
    description="HTTP 200 with status UP or DEGRADED; HTTP 503 with code 500 and status DOWN when "
    "the database is unreachable.",
    operation_class=doc.documented(
        answer=envelope_of(
            doc.obj(
                {
                    "status": S(enum=("UP", "DOWN", "DEGRADED")),
                    "service": S(),
                    "time": S(),
                    "message": S(),
                    "database": doc.obj({"status": S()}),
                    "watchers": doc.obj({"status": S()}),
                    "rate": doc.obj({"status": S()}),
                },
                required=("status", "service", "time", "message"),
            )
        ),
        answer_example={
            "code": 200,
            "msg": OK_MSG,
            "data": {
                "status": "UP",
                "service": "dryad-payment",
                "time": "2025-11-23 12:00:00",
                "message": "支付模块服务运行正常",
            },
        },
        error=ERROR,
        error_example={"code": 500, "msg": "DOWN", "data": None},
        error_statuses=(503,),
    ),
)
async def health_check(app_state: AppState) -> Response[Any]:
    report = await health.check(app_state)
    data = {
        "status": report.status,
        "service": "usdtpay",
        "time": common.local_text(app_state, app_state.now()),
        "message": report.message,
        **report.parts,
    }
    if report.status == health.DOWN:
        return envelope(data, code=500, msg=report.message, status=503)
    return envelope(data)


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[wechat_native, alipay_precreate, get_order, latest_transaction, health_check],
        exception_handlers={Exception: error_response},
        tags=["dryad (seed 002)"],
    )
