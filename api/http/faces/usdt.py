"""The usdt face (seed 004): /api/pay/create, /api/pay/query, /api/pay/supplement.

Every call is signed with the MD5 scheme in engine.signing. Errors use the
seed's codes in a `{code, msg, data}` envelope, with the same HTTP status.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.types import ASGIApp, Receive, Scope, Send

from api.http import signed_limits
from api.http.answer import JsonAnswer
from api.http.faces import common, usdt_doc, usdt_exchange
from api.http.state import AppState, app_state_of
from api.http.wire import int_field, read_fields, text_field
from engine import money
from engine.addresses import normalize, normalize_tx_hash
from engine.db import unit_of_work
from engine.errors import BadInput, Forbidden, UpstreamError, UsdtPayError
from engine.exchanges.ports import PLAT_OF
from engine.exchanges.supplement import is_exchange_order
from engine.models import Merchant, Order
from engine.notify.urls import check_notify_url
from engine.orders import queries
from engine.orders.queries import OrderState
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import find_order
from engine.settlement import rules_for
from engine.signing import compact_json, md5_verify
from engine.supplement import SupplementRejected, check_order, ensure_hash_unused, verify_and_settle
from watchers.readers import open_reader

log = logging.getLogger("usdtpay.api.usdt")

CHAIN_OF_CHAIN_TYPE = {1: "tron", 2: "eth"}
U_TYPE = {"tron": "TRC20", "eth": "ERC20"}
STATUS = {"pending": "pending", "paid": "paid", "expired": "expired", "failed": "failed", "closed": "failed"}
# Seed 004's fields per call: anything else is refused, and so is a value
# that would sign like other fields (api.http.wire.read_fields; README, the signature).
CREATE_FIELDS = frozenset(
    {
        "pid",
        "chain_type",
        "order_no",
        "amount",
        "currency",
        "type",
        "plat",
        "scanpay",
        "notify_url",
        "return_url",
        "param",
        "signature",
    }
)
# ASCII letters, digits, - and _ (one regex: a generator over the characters cost more).
_ORDER_NO = re.compile(r"[A-Za-z0-9_-]*")
QUERY_FIELDS = frozenset(("pid", "order_no", "signature"))
SUPPLEMENT_FIELDS = frozenset(("pid", "order_no", "p_addr", "hash", "signature"))


def envelope(data: Any, *, code: int = 200, msg: str = "success") -> Response[Any]:
    return Response({"code": code, "msg": msg, "data": data}, status_code=code)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, UsdtPayError):
        return envelope(None, code=exc.status if exc.status != 502 else 503, msg=exc.message)
    status, msg = common.unexpected(exc, log)
    return envelope(None, code=status, msg=msg)


@signed_limits.counts_failures
async def authenticate(state: AppState, request: Request[Any, Any, Any], fields: dict[str, Any]) -> Merchant:
    """pid and signature (403 for either), then the merchant's rate limit;
    failures count against the source address (api.http.signed_limits)."""
    pid = fields.get("pid")
    pid_text = pid if isinstance(pid, str) else ""
    signed_limits.check_source(state, request)
    if not pid_text:
        raise Forbidden("pid is missing: send your merchant id")
    signature = fields.get("signature")
    merchant = await state.merchants.get(state.sessions, pid_text)
    if merchant is not None and not md5_verify(fields, merchant.key, signature):
        # The cached key may just have been changed: check once against the database.
        merchant = await state.merchants.get(state.sessions, pid_text, fresh=True)
        if merchant is not None and not md5_verify(fields, merchant.key, signature):
            raise Forbidden(_signature_problem(signature))
    if merchant is None:
        raise Forbidden(f"unknown merchant pid {pid_text[:32]!r}")
    signed_limits.charge(state, pid_text)
    return merchant


def _signature_problem(signature: object) -> str:
    if signature is None or signature == "":
        return "signature is missing: sign the request (see Signatures at /schema or in the README)"
    return (
        "signature does not match: check the signing key and the string to sign "
        "(see Signatures at /schema or in the README)"
    )


def param_text(value: Any) -> str:
    """`param` is returned untouched: a string as sent, an object as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return compact_json(value)
    return str(value)[:2048]


def parse_create(fields: dict[str, Any]) -> tuple[NewOrder, int]:
    currency_text = text_field(fields, "currency", required=False, max_len=8).upper() or "CNY"
    if currency_text not in ("CNY", "USDT"):
        raise BadInput("currency must be CNY or USDT")
    currency = Currency(currency_text)
    exchange = usdt_exchange.exchange_of(fields)  # type 2: OKX / BINANCE / HTX
    chain = exchange or CHAIN_OF_CHAIN_TYPE[int_field(fields, "chain_type", choices=(1, 2))]
    decimals = money.FEN_DECIMALS if currency == Currency.CNY else money.USDT_DECIMALS
    order_no = text_field(fields, "order_no", max_len=64)
    if _ORDER_NO.fullmatch(order_no) is None:
        raise BadInput("order_no may contain only ASCII letters, digits, - and _")
    new = NewOrder(
        face="usdt",
        merchant_order_no=order_no,
        currency=currency,
        amount_units=money.parse_amount(fields.get("amount"), decimals),
        chain=chain,
        notify_url=text_field(fields, "notify_url", required=False, max_len=1024),
        return_url=text_field(fields, "return_url", required=False, max_len=1024),
        param=param_text(fields.get("param")),
        extra=usdt_exchange.exchange_extra(exchange),
    )
    return new, int_field(fields, "scanpay", default=1, choices=(0, 1))


def order_data(order: Order, state: AppState, scanpay: int) -> dict[str, Any]:
    if scanpay == 0:
        return {"url": cashier_url(state, order), "plat_order_no": str(order.id)}
    return {
        "plat_order_no": str(order.id),
        "u_addr": order.address,
        "u_type": u_type(order),
        "amount": money.format_usdt(order.usdt_units or 0),
        "expire_time": int(order.expires_at.timestamp()),
    }


def u_type(order: Order | OrderState) -> str:
    """TRC20 / ERC20 on chain; OKX / BINANCE / HTX for an exchange transfer."""
    chain = order.chain or ""
    return U_TYPE.get(chain) or PLAT_OF.get(chain) or order.channel or ""


def cashier_url(state: AppState, order: Order) -> str:
    return f"{state.settings.orders.public_base_url.rstrip('/')}/cashier.html?orderId={order.id}"


def query_data(order: Order | OrderState) -> dict[str, Any]:
    return {
        "plat_order_no": str(order.id),
        "order_no": order.merchant_order_no,
        "amount": money.format_usdt(order.usdt_units)
        if order.usdt_units
        else money.format_fen(order.fiat_fen or 0),
        "status": STATUS[order.status],
        "u_type": u_type(order),
        "paytime": int(order.paid_at.timestamp()) if order.paid_at else 0,
        "createtime": int(order.created_at.timestamp()),
    }


@post(
    "/api/pay/create",
    operation_id="usdtCreateOrder",
    summary="Create a USDT order (seed 004)",
    description="Creates an order priced in CNY or USDT and answers the unique USDT amount and the "
    "address to pay (scanpay 1) or the cashier URL (scanpay 0). The same order_no with the same "
    "parameters answers the original order (safe retry). " + usdt_doc.SIGNATURE_NOTE,
    status_code=200,
    operation_class=usdt_doc.create_doc(),
)
async def create(request: Request[Any, Any, Any]) -> JsonAnswer:
    # The busiest route: no dependency and no Response rendering per request
    # (api.http.answer); errors still go through error_response.
    app_state = app_state_of(request)
    fields = await read_fields(request, allowed=CREATE_FIELDS, signed=True)
    merchant = await authenticate(app_state, request, fields)
    new, scanpay = parse_create(fields)
    await check_notify_url(new.notify_url, app_state.settings)
    order, _ = await app_state.create_order(merchant, new)
    data = order_data(order, app_state, scanpay)
    if scanpay == 1 and is_exchange_order(order):
        data["u_addr"] = await usdt_exchange.receiver(app_state, order)
    return JsonAnswer({"code": 200, "msg": "success", "data": data})


@get(
    "/api/pay/query",
    operation_id="usdtQueryOrder",
    summary="Query an order (seed 004)",
    description="The order's status and payment time, by the merchant's order_no (query string). "
    + usdt_doc.SIGNATURE_NOTE,
    operation_class=usdt_doc.query_doc(),
)
async def query() -> ASGIApp:
    # No parameter, so Litestar resolves no kwargs and converts no signature
    # model per request; the answer is an ASGI app that reads the request
    # itself. What it raises reaches error_response as a handler's would
    # (Litestar's exception middleware wraps the whole route).
    return _answer_query


async def _answer_query(scope: Scope, receive: Receive, send: Send) -> None:
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    # The app state without the `app_state` dependency (api.http.state):
    # resolving a dependency per request was ~7 % of a status query's CPU.
    app_state = app_state_of(request)
    fields = await read_fields(request, allowed=QUERY_FIELDS, signed=True)
    merchant = await authenticate(app_state, request, fields)
    order_no = text_field(fields, "order_no", max_len=64)
    order = await find_order(app_state.work, merchant, order_no)
    answer = JsonAnswer({"code": 200, "msg": "success", "data": query_data(order)})  # as envelope(...)
    await answer(scope, receive, send)


def parse_supplement(fields: dict[str, Any]) -> tuple[str, str, str | None]:
    """order_no, hash and p_addr as sent: what they mean depends on the order
    (a chain's tx hash, or an exchange's ids for a type 2 order)."""
    order_no = text_field(fields, "order_no", max_len=64)
    tx_hash = text_field(fields, "hash", max_len=80)
    payer = text_field(fields, "p_addr", required=False, max_len=80) or None
    return order_no, tx_hash, payer


@post(
    "/api/pay/supplement",
    operation_id="usdtSupplement",
    summary="Settle an order by tx hash (seed 004)",
    description="Checks the transaction on the order's chain (USDT contract, recipient, exact amount, "
    "final block, time window, hash unused) and marks the order paid. A failed check answers 422 "
    "with `data.reason` (tx_not_found, tx_not_final, tx_failed, wrong_token, wrong_recipient, "
    "amount_differs, payer_differs, tx_too_early, tx_too_late, hash_used, order_already_paid). "
    + usdt_doc.SIGNATURE_NOTE,
    status_code=200,
    operation_class=usdt_doc.supplement_doc(),
)
async def supplement(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    """Verify the transaction on the order's chain and settle the order.

    No database session is open while the node is asked. A failed check
    answers 422 with `data.reason` naming it (tx_not_found, tx_not_final,
    tx_failed, wrong_token, wrong_recipient, amount_differs, payer_differs,
    tx_too_early, tx_too_late, hash_used, order_already_paid, ...).
    """
    fields = await read_fields(request, allowed=SUPPLEMENT_FIELDS, signed=True)
    merchant = await authenticate(app_state, request, fields)
    order_no, tx_hash, payer = parse_supplement(fields)
    try:
        async with app_state.sessions() as session:
            order = await queries.require_by_merchant_no(session, merchant, order_no)
        if is_exchange_order(order):  # type 2: the ids are checked at the exchange
            order = await usdt_exchange.supplement(app_state, order, tx_hash, payer or "")
            return envelope(query_data(order))
        tx_hash = normalize_tx_hash(tx_hash)
        async with app_state.sessions() as session:
            chain = check_order(order, tx_hash)
            payer = normalize(chain, payer) if payer is not None else None
            if order.status == "paid":  # by this very hash: a retried supplement
                return envelope(query_data(order))
            await ensure_hash_unused(session, order, tx_hash)
        async with open_reader(app_state.settings, chain) as reader:
            try:
                lookup = await reader.transaction(tx_hash)
            except UsdtPayError:
                raise
            except Exception as exc:
                raise UpstreamError(
                    f"the {chain} node could not be asked ({type(exc).__name__}); retry later"
                ) from exc
        async with unit_of_work(app_state.sessions) as session:
            order = await verify_and_settle(
                session,
                order.id,
                tx_hash,
                lookup,
                rules_for(app_state.settings, chain),
                app_state.now(),
                payer=payer,
            )
    except SupplementRejected as exc:
        return envelope({"reason": exc.code}, code=exc.status, msg=exc.message)
    return envelope(query_data(order))


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[create, query, supplement],
        exception_handlers={Exception: error_response},
        tags=["usdt (seed 004)"],
    )
