"""The checkout face (seed 001): the back-end calls of a payment template.

POST /api/order/info, /api/order/audio, /api/order/status take `order_id`,
or `out_order_id` + `pid` with that merchant's key (`X-Api-Key`: order numbers
are guessable, order ids are not); /api/order/qrcode takes `order_id` only.
Bodies are JSON or form-encoded; the `?_time=` cache-buster is ignored, and
every answer carries `Cache-Control: no-store`.

The seed shows bare objects on success and no error shape; errors here are `{"code": <HTTP status>,
"msg": "..."}` with that status (400, 403 by out_order_id without the merchant's key, 404, 429).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, post

from api.http.client_address import client_source
from api.http.faces import common, payer
from api.http.faces import openapi_doc as doc
from api.http.state import AppState
from api.http.wire import read_fields
from engine import money
from engine.errors import BadInput, Forbidden, NotFound, TooManyRequests, UsdtPayError
from engine.exchanges.ports import PLAT_OF
from engine.fiat import queries as fiat_queries
from engine.models import ChannelPayment, Order
from engine.orders.schemas import OrderStatus

log = logging.getLogger("usdtpay.api.checkout")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
STATUS_CODE = {"pending": 1, "paid": 2, "closed": 3, "expired": 4, "failed": 5}
PAY_TYPE = {"wechat": "wxpay", "alipay": "alipay", "quickpay": "quickpay"}
# Seed 001's lookup fields (and its `_time` cache-buster, should a client put
# it in the body); anything else is refused (api.http.wire.read_fields).
LOOKUP_FIELDS = frozenset(("order_id", "out_order_id", "pid", "_time"))
PAY_TYPE_TEXT = {
    "wxpay": "微信支付",
    "alipay": "支付宝",
    "quickpay": "快捷支付",
    "usdt_trc20": "USDT-TRC20",
    "usdt_erc20": "USDT-ERC20",
}


def ok(payload: dict[str, Any]) -> Response[Any]:
    return Response(payload, status_code=200, headers=NO_STORE)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        status, msg = (400 if isinstance(exc, BadInput) else exc.status), exc.message
    else:
        status, msg = common.unexpected(exc, log)
    return Response({"code": status, "msg": msg}, status_code=status, headers=NO_STORE)


def _text(fields: dict[str, Any], name: str, max_len: int = 64) -> str:
    """A text field that may arrive as a JSON number (pid: 10001)."""
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str):
        raise BadInput(f"{name} must be a string or a number")
    if len(value) > max_len:
        raise BadInput(f"{name} is longer than {max_len} characters")
    return value.strip()


async def find_order(state: AppState, request: Request[Any, Any, Any], *, by_id_only: bool = False) -> Order:
    if not state.limiter.allow(f"ip:{client_source(request)}"):
        raise TooManyRequests("too many requests; slow down and retry with exponential backoff")
    fields = await read_fields(request, allowed=LOOKUP_FIELDS)
    order_id = _text(fields, "order_id", 32)
    if order_id or by_id_only:
        return await common.load_order(state, common.parse_order_id(order_id, "order_id"))
    out_order_id, pid = _text(fields, "out_order_id"), _text(fields, "pid", 32)
    if not out_order_id or not pid:
        raise BadInput("give order_id, or out_order_id together with pid")
    # Order numbers are guessable: only their merchant looks orders up by them.
    merchant = await common.key_merchant(state, request)
    if merchant is None or merchant.pid != pid:
        raise Forbidden(
            "looking an order up by out_order_id + pid needs that merchant's key "
            "(X-Api-Key: <pid>:<API key>); a payer's page gives order_id instead"
        )
    return await common.load_merchant_order(state, pid, out_order_id)


def pay_type(order: Order) -> str:
    if order.chain is not None:  # an exchange order (seed 004 type 2) is named by its platform
        return common.USDT_TYPE.get(order.chain) or PLAT_OF.get(order.chain, "")
    return PAY_TYPE.get(order.channel or "", "")


def return_uri(order: Order, status: str) -> str:
    return order.return_url if status == OrderStatus.PAID else ""


def account_tip(order: Order) -> dict[str, Any]:
    if order.chain is None:
        return {"tip": "", "tip_cover": 0}
    label = common.CHAIN_LABEL.get(order.chain) or PLAT_OF.get(order.chain, "")
    return {
        "tip": f"请转账精确金额 {common.usdt_amount(order)} USDT ({label}),金额不符将无法到账",
        "tip_cover": 1,
    }


def info_data(state: AppState, order: Order) -> dict[str, Any]:
    status = common.shown_status(order, state.now())
    kind = pay_type(order)
    cfg = state.settings.checkout
    data = {
        "subject": order.subject,
        "out_order_id": order.merchant_order_no,
        "order_id": str(order.id),
        "status": STATUS_CODE[status],
        "amount": common.amount_cents(order),
        "trade_amount": common.amount_cents(order),
        "expire_time": int(order.expires_at.timestamp()),
        "pay_type": kind,
        "pay_type_text": PAY_TYPE_TEXT.get(kind, ""),
        "create_time": common.local_text(state, order.created_at),
        "return_uri": return_uri(order, status),
        "pay_type_logo": "",
        "content": str(order.extra.get("description") or order.subject),
        "service_qq": cfg.service_qq,
        "pay_tip": cfg.pay_tip,
        "pay_payed_wait_time": cfg.payed_wait_seconds,
        "pay_account_tip": account_tip(order),
        "currency": order.currency,
    }
    if order.chain is not None:
        data |= {"usdt_amount": common.usdt_amount(order), "address": order.address}
    return data


LOOKUP = doc.obj(
    {
        "order_id": doc.string("订单号", max_length=32, example="202406010001"),
        "out_order_id": doc.string("外部订单号", max_length=64),
        "pid": doc.one_of(
            doc.integer(minimum=0, maximum=2**31 - 1), doc.string(max_length=32), description="商户 ID"
        ),
    },
    description="order_id, or out_order_id + pid (not both empty); out_order_id + pid needs the "
    "merchant's key in X-Api-Key: <pid>:<key> (403 without it)",
)
ERROR = doc.obj({"code": doc.integer("the HTTP status"), "msg": doc.string()}, required=("code", "msg"))
ERROR_EXAMPLE = {"code": 404, "msg": "no order 202406010001; check the order number"}
TIME_PARAM = doc.query("_time", doc.string("cache-buster, ignored"), required=False)


def _doc(answer: doc.Schema, example: dict[str, Any], body: doc.Schema = LOOKUP) -> type[doc.Operation]:
    return doc.documented(
        body=body,
        body_example={"order_id": "202406010001"},
        form=True,
        parameters=[TIME_PARAM],
        answer=answer,
        answer_example=example,
        error=ERROR,
        error_example=ERROR_EXAMPLE,
        error_statuses=(400, 403, 404),
    )


S, Int = doc.string, doc.integer
INFO = doc.obj(
    {
        **{k: S() for k in ("subject", "out_order_id", "order_id", "pay_type", "pay_type_text")},
        **{
            k: S() for k in ("create_time", "return_uri", "pay_type_logo", "content", "service_qq", "pay_tip")
        },
        "status": Int("1 待支付, 2 支付完成, 3 关闭, 4 超时, 5 创建失败", enum=(1, 2, 3, 4, 5)),
        "amount": Int("订单金额(分)"),
        "trade_amount": Int("交易金额(分)"),
        "expire_time": Int("过期时间戳(秒)"),
        "pay_payed_wait_time": Int(),
        "pay_account_tip": doc.obj({"tip": S(), "tip_cover": Int()}),
    },
    required=("subject", "order_id", "status", "amount", "expire_time"),
)
INFO_EXAMPLE = {
    "subject": "商品购买",
    "out_order_id": "EXT20240601",
    "order_id": "202406010001",
    "status": 2,
    "amount": 1000,
    "trade_amount": 1000,
    "expire_time": 1717220000,
    "pay_type": "alipay",
    "pay_type_text": "支付宝",
    "create_time": "2024-06-01 12:00:00",
    "return_uri": "/order/return",
    "pay_type_logo": "/assets/alipay.png",
    "content": "订单内容",
    "service_qq": "123456",
    "pay_tip": "请及时支付",
    "pay_payed_wait_time": 5,
    "pay_account_tip": {"tip": "请核对账号信息", "tip_cover": 1},
}


@post(
    "/api/order/info",
    operation_id="checkoutOrderInfo",
    summary="Order details (seed 001)",
    status_code=200,
    operation_class=_doc(INFO, INFO_EXAMPLE),
)
async def order_info(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order = await find_order(app_state, request)
    return ok(info_data(app_state, order))


def audio_data(state: AppState, order: Order) -> dict[str, Any]:
    cfg = state.settings.checkout
    if not cfg.audio_enabled:
        return {"audio_enable": 0, "audio_url": "", "audio_content": ""}
    values = {
        "amount": money.format_fen(order.fiat_fen) if order.fiat_fen else common.usdt_amount(order),
        "channel": PAY_TYPE_TEXT.get(pay_type(order), ""),
        "order_id": str(order.id),
    }
    try:
        content = cfg.audio_content_template.format(**values)
        url = cfg.audio_url_template.format(**values, content=quote(content, safe=""))
    except (KeyError, IndexError, ValueError) as exc:
        raise BadInput(
            f"the audio templates have an unknown placeholder ({exc}); use {{amount}}, {{channel}}, "
            "{order_id} and, in USDTPAY_CHECKOUT__AUDIO_URL_TEMPLATE, {content}"
        ) from exc
    return {"audio_enable": 1, "audio_url": url, "audio_content": content}


@post(
    "/api/order/audio",
    operation_id="checkoutOrderAudio",
    summary="Voice broadcast info (seed 001)",
    status_code=200,
    operation_class=_doc(
        doc.obj({"audio_enable": Int(enum=(0, 1)), "audio_url": S(), "audio_content": S()}),
        {
            "audio_enable": 1,
            "audio_url": "https://cdn.example.com/audio/123.mp3",
            "audio_content": "您有一笔新订单,请及时处理。",
        },
    ),
)
async def order_audio(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order = await find_order(app_state, request)
    return ok(audio_data(app_state, order))


@post(
    "/api/order/status",
    operation_id="checkoutOrderStatus",
    summary="Order status (seed 001)",
    status_code=200,
    operation_class=_doc(
        doc.obj(
            {
                "status": Int(enum=(1, 2, 3, 4, 5)),
                "expire_time": Int(),
                "return_uri": S(),
                "is_auto_open": Int(enum=(0, 1)),
                "pay_payed_wait_time": Int(),
                **payer.PAYMENT_DOCS,
            },
            required=("status", "expire_time"),
        ),
        {
            "status": 2,
            "expire_time": 1717220000,
            "return_uri": "/order/return",
            "is_auto_open": 1,
            "pay_payed_wait_time": 5,
        },
    ),
)
async def order_status(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order = await find_order(app_state, request)
    status = common.shown_status(order, app_state.now())
    cfg = app_state.settings.checkout
    answer = {
        "status": STATUS_CODE[status],
        "expire_time": int(order.expires_at.timestamp()),
        "return_uri": return_uri(order, status),
        "is_auto_open": 1 if cfg.auto_open else 0,
        "pay_payed_wait_time": cfg.payed_wait_seconds,
    }
    # `status` stays 1 (待支付) while a transfer is only seen: the extras say how far it is.
    return ok(answer | await payer.payment_fields(app_state, order))


QR_FIELDS = [
    "type",
    "qrcode_data",
    "qrcode",
    "scheme",
    "uri",
    "content",
    "actual_amount",
    "actual_account",
    "actual_account_type",
]


def label_of(order: Order) -> str:
    chain = order.chain or "tron"
    return common.CHAIN_LABEL.get(chain) or PLAT_OF.get(chain, chain)


def qr_image_url(state: AppState, data: str) -> str:
    base = state.settings.orders.public_base_url.rstrip("/")
    return f"{base}/api/qr.svg?data={quote(data, safe='')}"


def usdt_qrcode(state: AppState, order: Order) -> dict[str, Any]:
    kind = pay_type(order)
    address = order.address or ""
    amount = common.usdt_amount(order)
    return {
        "type": kind,
        "qrcode_data": address,
        "qrcode": qr_image_url(state, address),
        "scheme": "",
        "uri": "",
        "content": f"请向该地址转账精确金额 {amount} USDT ({label_of(order)})",
        "actual_amount": amount,
        "actual_account": address,
        "actual_account_type": PAY_TYPE_TEXT.get(kind, kind),
    }


def fiat_qrcode(state: AppState, order: Order, payment: ChannelPayment) -> dict[str, Any]:
    created = payment.pay_data.get("created") or {}
    kind = PAY_TYPE.get(payment.channel, payment.channel)
    code = str(created.get("qrcode") or created.get("payurl") or "")
    return {
        "type": kind,
        "qrcode_data": code,
        "qrcode": qr_image_url(state, code) if code else "",
        "scheme": str(created.get("urlscheme") or ""),
        "uri": str(created.get("payurl") or ""),
        "content": f"请使用{PAY_TYPE_TEXT.get(kind, payment.channel)}扫码支付",
        "actual_amount": money.format_fen(payment.amount_fen),
        "actual_account": "",
        "actual_account_type": PAY_TYPE_TEXT.get(kind, ""),
    }


@post(
    "/api/order/qrcode",
    operation_id="checkoutOrderQrcode",
    summary="The order's QR code; by order_id only (seed 001)",
    status_code=200,
    operation_class=_doc(
        doc.obj(
            {k: S() for k in QR_FIELDS},
            required=("type", "qrcode_data", "qrcode"),
        ),
        {
            "type": "alipay",
            "qrcode_data": "xxxxxx",
            "qrcode": "https://cdn.example.com/qrcode/123.png",
            "scheme": "alipays://platformapi/startapp?saId=10000007",
            "uri": "alipayqr://platformapi/startapp?saId=10000007",
            "content": "请使用支付宝扫码支付",
            "actual_amount": "10.00",
            "actual_account": "alipay@xxx",
            "actual_account_type": "支付宝",
        },
        body=doc.obj({"order_id": S("订单号", max_length=32)}, required=("order_id",)),
    ),
)
async def order_qrcode(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order = await find_order(app_state, request, by_id_only=True)
    if order.chain is not None:
        return ok(usdt_qrcode(app_state, order))
    async with app_state.sessions() as session:
        payment = await fiat_queries.newest_payment(session, order.id, with_pay_data=True)
    if payment is None:
        raise NotFound("no payment has been started for this order yet; the payer chooses a channel first")
    return ok(fiat_qrcode(app_state, order, payment))


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[order_info, order_audio, order_status, order_qrcode],
        exception_handlers={Exception: error_response},
        tags=["checkout (seed 001)"],
    )
