"""The epay face: EPay V1 (彩虹易支付) at the site root, for shop software
(dujiaoka, WHMCS, WooCommerce EPay plugins) that hard-codes these paths.

- GET|POST /submit.php: verify, create, 302 to the cashier page.
- POST /mapi.php: verify, create, JSON `{code: 1, msg, trade_no, payurl |
  qrcode | urlscheme}` as suits the type and `device`.
- GET /api.php?act=order: one order, by `out_trade_no` or `trade_no`, with
  the raw merchant key in `key` or a `sign` over the query.
- GET /epay/return: usdtpay's own return relay (the order's return URL):
  the merchant's return_url with the signed TRADE_SUCCESS fields once the
  order is paid, the cashier page before.

JSON errors are EPay's: HTTP 200 with `{code: <0, msg}` (-3 unknown pid,
-2 bad key or sign, -5 unknown act, -1 anything else), because shop
clients read `code`, and some throw on a 4xx before they can show `msg`.
Browser errors are a small HTML page with a 4xx status.
"""

from __future__ import annotations

import html
import ipaddress
import logging
from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.response import Redirect

from api.http.channel_payments import start_fiat_payment
from api.http.faces import common
from api.http.faces import epay_doc as doc
from api.http.faces.epay_wire import (
    MAX_BODY,
    BadKey,
    Fields,
    Route,
    UnknownPid,
    authenticate,
    authenticate_query,
    new_order,
    read_fields,
)
from api.http.state import AppState
from api.http.wire import client_ip
from engine import epay
from engine.errors import BadInput, Forbidden, NotFound, UsdtPayError
from engine.fiat.channel import ClientKind
from engine.merchants import get_merchant
from engine.models import Merchant, Order
from engine.notify.outbox import quickpay_wallet
from engine.orders import queries
from engine.orders.schemas import OrderStatus

log = logging.getLogger("usdtpay.api.epay")

PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
QUERY_OK = "查询订单号成功！"


def error_code(exc: UsdtPayError) -> int:
    if isinstance(exc, UnknownPid):
        return -3
    if isinstance(exc, BadKey | Forbidden):
        return -2
    return -1


def json_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        return Response({"code": error_code(exc), "msg": exc.message}, status_code=200)
    status, msg = common.unexpected(exc, log)
    return Response({"code": -1, "msg": msg}, status_code=status)


def page(status: int, title: str, message: str) -> Response[str]:
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em">'
        f"<h3>{html.escape(title)}</h3><p>{html.escape(message)}</p></body></html>"
    )
    headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)


def page_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        status = 400 if isinstance(exc, BadInput) else exc.status
        return page(status if status < 500 else 503, "站点提示信息", exc.message)
    status, msg = common.unexpected(exc, log)
    return page(status, "站点提示信息", msg)


def cashier_url(state: AppState, order: Order) -> str:
    return f"{state.settings.orders.public_base_url.rstrip('/')}/cashier.html?orderId={order.id}"


async def create(request: Request[Any, Any, Any], state: AppState) -> tuple[Order, Route, Fields]:
    fields = await read_fields(request)
    merchant, mode = await authenticate(state, request, fields)
    new, route = await new_order(state, merchant, fields, mode)
    order, _ = await state.create_order(merchant, new)
    return order, route, fields


async def _submit(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order, _, _ = await create(request, app_state)
    return Redirect(cashier_url(app_state, order), status_code=302)


SUBMIT_SUMMARY = "EPay page jump: verify, create, 302 to the cashier (EPay V1 submit.php)"


@get(
    "/submit.php",
    operation_id="epaySubmitGet",
    summary=SUBMIT_SUMMARY,
    status_code=302,
    exception_handlers={Exception: page_error},
    operation_class=doc.submit(form=False),
)
async def submit_get(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await _submit(request, app_state)


@post(
    "/submit.php",
    operation_id="epaySubmitPost",
    summary=SUBMIT_SUMMARY,
    status_code=302,
    exception_handlers={Exception: page_error},
    request_max_body_size=MAX_BODY,
    operation_class=doc.submit(form=True),
)
async def submit_post(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await _submit(request, app_state)


def fiat_kind(order: Order, route: Route, device: str) -> ClientKind | None:
    """What to ask the channel for, or None when only the cashier page can
    serve this device (inside WeChat or QQ: JSAPI needs the payer's openid)."""
    wallet = route.wallet or order.channel or ""
    if device == "mobile":
        return ClientKind.QR if order.channel == "quickpay" else ClientKind.H5
    if device == "alipay":  # the Alipay app's own browser
        return ClientKind.H5 if wallet == "alipay" and order.channel == "alipay" else None
    if device in ("wechat", "qq"):
        return None
    return ClientKind.QR  # pc, empty, or a device EPay clones added since


async def pay_answer(
    state: AppState, request: Request[Any, Any, Any], order: Order, route: Route, fields: Fields
) -> dict[str, Any]:
    answer: dict[str, Any] = {"code": 1, "msg": "success", "trade_no": str(order.id)}
    kind = fiat_kind(order, route, fields.get("device", "").lower()) if order.channel else None
    if order.channel is None or kind is None:
        return answer | {"payurl": cashier_url(state, order)}
    payer_ip = fields.get("clientip", "")
    try:  # the payer's address, which WeChat H5 checks; else the caller's
        ipaddress.ip_address(payer_ip)
    except ValueError:
        payer_ip = client_ip(request)
    payment = await start_fiat_payment(
        state, order.id, order.channel, kind, wallet=route.wallet, client_ip=payer_ip
    )
    created = payment.created
    if kind == ClientKind.QR and created.qrcode:
        return answer | {"qrcode": created.qrcode}
    if created.payurl:
        return answer | {"payurl": created.payurl}
    if created.urlscheme:
        return answer | {"urlscheme": created.urlscheme}
    return answer | {"payurl": cashier_url(state, order)}


@post(
    "/mapi.php",
    operation_id="epayMapi",
    summary="EPay API create: JSON pay link, QR code or app scheme (EPay V1 mapi.php)",
    status_code=200,
    request_max_body_size=MAX_BODY,
    operation_class=doc.MAPI,
)
async def mapi(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    order, route, fields = await create(request, app_state)
    return Response(await pay_answer(app_state, request, order, route, fields), status_code=200)


async def find_order(state: AppState, merchant: Merchant, fields: Fields) -> Order:
    trade_no = fields.get("trade_no", "")
    out_trade_no = fields.get("out_trade_no", "")
    if not trade_no and not out_trade_no:
        raise BadInput("out_trade_no 或 trade_no 不能为空 (send out_trade_no or trade_no)")
    order: Order | None = None
    async with state.sessions() as session:
        if trade_no:
            if trade_no.isascii() and trade_no.isdigit() and len(trade_no) <= 17:
                order = await queries.get_order(session, int(trade_no))
        elif len(out_trade_no) <= 64:
            order = await queries.get_by_merchant_no(session, merchant.id, out_trade_no)
    if (
        order is None
        or order.merchant_id != merchant.id
        or (out_trade_no and out_trade_no != order.merchant_order_no)
    ):
        raise NotFound("订单号不存在 (no such order for this pid)")
    return order


async def order_answer(state: AppState, merchant: Merchant, order: Order) -> dict[str, Any]:
    async with state.sessions() as session:
        wallet = await quickpay_wallet(session, order)
    saved = epay.saved(order)
    paid = order.status == OrderStatus.PAID
    return {
        "code": 1,
        "msg": QUERY_OK,
        "trade_no": str(order.id),
        "out_trade_no": order.merchant_order_no,
        "api_trade_no": order.channel_trade_no or order.tx_hash or "",
        "type": epay.paid_type(order, wallet) if paid else str(saved.get("type", "")),
        "pid": merchant.pid,
        "addtime": common.local_text(state, order.created_at),
        "endtime": common.local_text(state, order.paid_at) if paid else None,
        "name": str(saved.get("name", order.subject)),
        "money": epay.money_text(order),
        "status": 1 if paid else 0,
        "param": str(saved.get("param", order.param)),
        "buyer": order.payer_address or "",
    }


async def _api(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    fields = await read_fields(request)
    if fields.get("act", "") != "order":
        return Response({"code": -5, "msg": "No Act! (only act=order is served here)"}, status_code=200)
    merchant = await authenticate_query(app_state, request, fields)
    order = await find_order(app_state, merchant, fields)
    return Response(await order_answer(app_state, merchant, order), status_code=200)


@get(
    "/api.php",
    operation_id="epayQueryOrder",
    summary=doc.QUERY_SUMMARY,
    description=doc.QUERY_DESCRIPTION,
    operation_class=doc.QUERY,
)
async def api_get(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await _api(request, app_state)


@post(
    "/api.php",
    operation_id="epayQueryOrderPost",
    summary=doc.QUERY_SUMMARY,
    description=doc.QUERY_DESCRIPTION,
    operation_class=doc.QUERY_POST,
    status_code=200,
    request_max_body_size=MAX_BODY,
)
async def api_post(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    return await _api(request, app_state)


@get(
    "/epay/return",
    operation_id="epayReturn",
    summary="Return relay: the merchant's return_url, signed, once the order is paid",
    status_code=302,
    exception_handlers={Exception: page_error},
    operation_class=doc.RETURN,
)
async def return_relay(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    pid = request.query_params.get("pid", "")
    out_trade_no = request.query_params.get("out_trade_no", "")
    if not pid or not out_trade_no or len(pid) > 32 or len(out_trade_no) > 64:
        raise BadInput("pid and out_trade_no are required")
    async with app_state.sessions() as session:
        merchant = await get_merchant(session, pid)
        order = await queries.get_by_merchant_no(session, merchant.id, out_trade_no) if merchant else None
        wallet = await quickpay_wallet(session, order) if order is not None else ""
    target = str(epay.saved(order).get("return_url", "")) if order is not None else ""
    if merchant is None or order is None or order.face != "epay" or not target:
        raise NotFound("订单号不存在 (no such order)")
    if order.status != OrderStatus.PAID:
        # Never signed before payment: back to the page that waits for it.
        return Redirect(cashier_url(app_state, order), status_code=302)
    query = epay.query_string(epay.result_fields(order, merchant, wallet))
    return Redirect(epay.with_query(target, query), status_code=302)


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[submit_get, submit_post, mapi, api_get, api_post, return_relay],
        exception_handlers={Exception: json_error},
        tags=["epay (EPay V1)"],
    )
