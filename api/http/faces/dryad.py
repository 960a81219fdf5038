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
from api.http.faces import dryad_doc as doc_of
from api.http.faces.dryad_doc import MAX_FEN, OK_MSG
from api.http.state import AppState
from api.http.wire import client_ip, read_fields, text_field
from engine.errors import BadInput, BusinessRule, Conflict, NotFound, Unavailable, UpstreamError, UsdtPayError
from engine.exchanges.ports import PLAT_OF
from engine.fiat import queries as fiat_queries
from engine.fiat.channel import ClientKind
from engine.models import ChannelPayment, Order
from engine.orders.schemas import Currency, NewOrder

log = logging.getLogger("usdtpay.api.dryad")

EXPIRE_MINUTES = 120  # the seed: expireAt is 2 hours after creation
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
    operation_class=doc_of.create("ORDER20251123001"),
)
async def wechat_native(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await create_payment(request, app_state, "wechat")


@post(
    "/api/pay/alipay/precreate",
    operation_id="dryadAlipayPrecreate",
    summary="Alipay face-to-face QR payment (seed 002)",
    description=AUTH_NOTE,
    status_code=200,
    operation_class=doc_of.create("ORDER20251123002"),
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
        latest = await fiat_queries.newest_payment(session, order.id)
    return order, latest


@get(
    "/api/pay/orders/{orderId:str}",
    operation_id="dryadGetOrder",
    summary="Order status (seed 002)",
    operation_class=doc_of.GET_ORDER,
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
    operation_class=doc_of.LATEST_TRANSACTION,
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
    operation_class=doc_of.HEALTH,
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
