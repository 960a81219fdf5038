"""The quickpay face (seed 003): POST /QuickPay/JSAPIPay served by usdtpay.

A merchant calls it exactly as it would call QuickPay (Lianke): `store_no`
is the merchant's pid and the body is signed with the same scheme the
QuickPay bridge uses (bridges.quickpay.sign: sorted non-empty fields,
`&key=<merchant key>`, upper-case MD5 in `sign`). paytype 11 goes to the
WeChat JSAPI channel, 21 to the Alipay one (QuickPay itself when the direct
channel is not enabled). The answer is ResultInfoOfPayResultInfo with the
in-app pay parameters in `cloudpay_param`.

Like the upstream, answers are HTTP 200: `code` is SUCCESS or FAILED and
`msg` says why; `data` is null on failure.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from litestar import Request, Response, Router, post

from api.http import signed_limits
from api.http.channel_payments import FiatPayment, start_fiat_payment
from api.http.faces import common
from api.http.faces import openapi_doc as doc
from api.http.state import AppState
from api.http.wire import client_ip, read_fields
from bridges.quickpay import verify
from engine.errors import BadInput, Forbidden, UsdtPayError
from engine.fiat.channel import ClientKind
from engine.merchants import get_merchant
from engine.models import Merchant, Order
from engine.orders.schemas import Currency, NewOrder

log = logging.getLogger("usdtpay.api.quickpay")

SIGN_FIELD = "sign"
# JSAPIPayInfo (seed 003) and the signature: anything else is refused, and so
# is a value that would sign like other fields (api.http.wire.read_fields).
FIELDS = frozenset(
    {
        "store_no",
        "paytype",
        "operator",
        "appid",
        "openid",
        "amount",
        "order_no",
        "iteminfo",
        "notify_url",
        "goods_tag",
        "share_pay",
        "attach",
        "itemlist",
        SIGN_FIELD,
    }
)
MAX_AMOUNT = 9_999_999_999
WALLET = {11: "wechat", 21: "alipay"}
PAYTYPE_NAME = {11: "WECHATPAY_JSAPI", 21: "ALIPAY_JSAPI"}
TRANSACTION_STATUS = {
    "pending": "CREATE",
    "paid": "SUCCESS",
    "failed": "FAILED",
    "closed": "CANCELED",
    "expired": "CLOSED",
}


def answer(code: str, msg: str, data: dict[str, Any] | None) -> Response[Any]:
    return Response({"code": code, "msg": msg, "data": data}, status_code=200)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        return answer("FAILED", exc.message, None)
    status, msg = common.unexpected(exc, log)
    return Response({"code": "FAILED", "msg": msg, "data": None}, status_code=status)


def text(fields: dict[str, Any], name: str, low: int, high: int, *, default: str = "") -> str:
    """A string field with the document's length range (low 0 = optional)."""
    value = fields.get(name)
    if value is None or value == "":
        if low > 0 and not default:
            raise BadInput(f"{name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if not low <= len(value) <= high:
        raise BadInput(
            f"{name} 字符长度必须在 {low} 和 {high} 之间 ({name} must be {low} to {high} characters)"
        )
    return value


def number(fields: dict[str, Any], name: str, low: int, high: int, *, default: int | None = None) -> int:
    value = fields.get(name)
    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is required")
        return default
    raw = value if isinstance(value, str) else ""
    if isinstance(value, bool) or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise BadInput(f"{name} must be an integer")
    result = int(raw)
    if not low <= result <= high:
        raise BadInput(f"{name} 数值范围必须在 {low} 和 {high} 之间 ({name} must be {low}..{high})")
    return result


@signed_limits.counts_failures
async def authenticate(state: AppState, request: Request[Any, Any, Any], fields: dict[str, Any]) -> Merchant:
    """store_no and sign, then the merchant's rate limit; failures count
    against the source address (api.http.signed_limits)."""
    signed_limits.check_source(state, request)
    store_no = text(fields, "store_no", 1, 32)
    async with state.sessions() as session:
        merchant = await get_merchant(session, store_no)
    if merchant is None or not verify(fields, merchant.key, SIGN_FIELD):
        raise Forbidden("签名错误或门店不存在 (bad sign or unknown store_no): sign with the merchant key")
    signed_limits.charge(state, store_no)
    return merchant


async def parse_order(state: AppState, fields: dict[str, Any]) -> tuple[NewOrder, int, str, str]:
    """The order, the paytype and the payer (appid, openid)."""
    paytype = number(fields, "paytype", 0, 99, default=11)
    if paytype not in WALLET:
        raise BadInput("paytype must be 11 (WeChat) or 21 (Alipay)")
    appid = text(fields, "appid", 1 if paytype == 11 else 0, 64)
    openid = text(fields, "openid", 1, 128)
    itemlist = fields.get("itemlist")
    if itemlist is not None and not isinstance(itemlist, list):
        raise BadInput("itemlist must be a list of ItemInfo objects")
    share_pay = fields.get("share_pay")
    if share_pay is not None and not isinstance(share_pay, bool):
        raise BadInput("share_pay must be true or false")
    extra = {
        "operator": text(fields, "operator", 1, 16, default="WEB"),
        "paytype": paytype,
        "goods_tag": text(fields, "goods_tag", 0, 64),
        "share_pay": bool(share_pay),
        "item_count": len(itemlist or []),
    }
    notify_url = await common.check_notify_target(state, text(fields, "notify_url", 0, 1024), "notify_url")
    new = NewOrder(
        face="quickpay",
        merchant_order_no=text(fields, "order_no", 1, 32),
        currency=Currency.CNY,
        amount_units=number(fields, "amount", 1, MAX_AMOUNT),
        # The wallet the merchant asked for, through the route serving it:
        # the order is paid that way only (never in USDT at the cashier).
        channel=route(state, paytype)[0],
        subject=text(fields, "iteminfo", 0, 256),
        notify_url=notify_url,
        param=text(fields, "attach", 0, 127),
        extra=extra,
    )
    return new, paytype, appid, openid


def route(state: AppState, paytype: int) -> tuple[str, str]:
    wallet = WALLET[paytype]
    if wallet in state.channels or "quickpay" not in state.channels:
        return wallet, ""
    return "quickpay", wallet


def cloudpay_param(payment: FiatPayment) -> str:
    """The in-app pay parameters as JSON text; QuickPay's own text as it came."""
    jsapi = payment.created.jsapi
    if set(jsapi) == {"cloudpay_param"}:
        return str(jsapi["cloudpay_param"])
    return json.dumps(jsapi, ensure_ascii=False, separators=(",", ":"))


def result_info(
    state: AppState, order: Order, payment: FiatPayment, store_no: str, openid: str
) -> dict[str, Any]:
    paytype = int(order.extra.get("paytype", 11))
    amount = order.fiat_fen or 0
    return {
        "transaction_status": TRANSACTION_STATUS[common.shown_status(order, state.now())],
        "error": "",
        "store_no": store_no,
        "paytype": PAYTYPE_NAME[paytype],
        "operator": order.extra.get("operator", "WEB"),
        "bank_type": "",
        "total_amount": amount,
        "cash_amount": amount,
        "settlement_amount": amount,
        "coupon_amount": 0,
        "order_no": order.merchant_order_no,
        "transaction_no": str(payment.payment_id),
        "cloudpay_param": cloudpay_param(payment),
        "transaction_time": common.local_text(state, order.created_at),
        "message": "",
        "buyer": openid,
        "attach": order.param,
        "iteminfo": order.subject,
        "coupon_detail_list": [],
    }


S, Int = doc.string, doc.integer
ITEM = doc.obj(
    {
        "item_id": S(),
        "item_no": S(),
        "item_name": S(),
        "quantity": Int(),
        "price": Int(),
        "promotion_type": Int(),
    }
)
BODY = doc.obj(
    {
        "store_no": S("门店编码 (your merchant pid)", min_length=1, max_length=32),
        "paytype": Int("11 微信, 21 支付宝", enum=(11, 21)),
        "operator": S("操作员", min_length=1, max_length=16),
        "appid": S("公众号/小程序 AppID (WeChat)"),
        "openid": S("OpenID / 支付宝用户号"),
        "amount": Int("分", minimum=1, maximum=MAX_AMOUNT),
        "order_no": S("商户单据号", min_length=1, max_length=32),
        "iteminfo": S("商品描述: what is bought, shown to the payer", max_length=256),
        "notify_url": S("异步通知地址: where the paid notification goes", max_length=1024),
        "goods_tag": S("订单优惠标记: passed to the channel", max_length=64),
        "share_pay": doc.boolean("分账标记: passed to the channel"),
        "attach": S("附加数据: returned untouched in the notification", max_length=127),
        "itemlist": doc.array(ITEM, "商品明细: the order's items"),
        "sign": S("MD5 of the sorted fields and &key=<merchant key>, upper case"),
    },
    required=("store_no", "openid", "amount", "order_no", "sign"),
)
SEED_REQUEST = {
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
RESULT = doc.obj(
    {
        "code": S(enum=("SUCCESS", "FAILED")),
        "msg": S(),
        "data": doc.nullable(
            doc.obj(
                {
                    **{k: S() for k in ("transaction_status", "error", "store_no", "paytype", "operator")},
                    **{k: S() for k in ("bank_type", "order_no", "transaction_no", "cloudpay_param")},
                    **{k: S() for k in ("transaction_time", "message", "buyer", "attach", "iteminfo")},
                    **{
                        k: Int()
                        for k in ("total_amount", "cash_amount", "settlement_amount", "coupon_amount")
                    },
                    "coupon_detail_list": doc.array(doc.obj({})),
                }
            )
        ),
    },
    required=("code", "msg", "data"),
)


@post(
    "/QuickPay/JSAPIPay",
    operation_id="quickpayJsapiPay",
    summary="WeChat official account / mini program / Alipay service window order (seed 003)",
    description="Signed like QuickPay: store_no is your merchant pid, `sign` the upper-case MD5 of the "
    "sorted non-empty fields joined as k=v with &, then &key=<merchant key>.",
    status_code=200,
    operation_class=doc.documented(
        body=BODY,
        body_example=SEED_REQUEST,
        answer=RESULT,
        answer_example={
            "code": "SUCCESS",
            "msg": "sample string 1",
            "data": {"transaction_status": "CREATE"},
        },
        error=RESULT,
        error_example={"code": "FAILED", "msg": "签名错误或门店不存在", "data": None},
        error_statuses=(),
    ),
)
async def jsapi_pay(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    fields = await read_fields(request, allowed=FIELDS, signed=True)
    merchant = await authenticate(app_state, request, fields)
    new, paytype, appid, openid = await parse_order(app_state, fields)
    channel, wallet = route(app_state, paytype)
    new = replace(new, channel=channel)
    order, _ = await app_state.create_order(merchant, new)
    payment = await start_fiat_payment(
        app_state,
        order.id,
        channel,
        ClientKind.JSAPI,
        openid=openid,
        appid=appid,
        wallet=wallet,
        client_ip=client_ip(request),
    )
    return answer("SUCCESS", "OK", result_info(app_state, order, payment, merchant.pid, openid))


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[jsapi_pay],
        exception_handlers={Exception: error_response},
        tags=["quickpay (seed 003)"],
    )
