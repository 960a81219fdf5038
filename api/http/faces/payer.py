"""The payer's side of the cashier page (issue 17).

`payment_fields` is what the page polls for besides the status: a transfer
seen in a block that is not final yet ("payment received, confirming
n / N") and a near miss to explain (an under- or over-payment to the
order's address). The faces add them to their answers as documented
extra fields; the merchant-facing status stays unpaid until final.

`POST /api/cashier/paid` is "I have paid": the payer pastes a transaction
hash and it is verified exactly as the supplement verifies one (invariant
6, engine.supplement) and settled through the watcher's own code path, or
refused with the precise reason in both languages. It is unsigned, so it is
rate-limited per source, per order and in all; it can settle only what the
watcher would settle once it reaches the block.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from litestar import Request, Response, Router, post
from sqlalchemy.engine import Connection

from api.http.client_address import client_source
from api.http.faces import common, payer_exchange
from api.http.faces import openapi_doc as doc
from api.http.faces.payer_text import Refused, Said, advice, chain_names, said_for_error, say
from api.http.state import AppState
from api.http.wire import read_fields, text_field
from engine import money
from engine.addresses import normalize_tx_hash
from engine.chain import BLOCK_SECONDS, TxLookup
from engine.db import unit_of_work
from engine.errors import BadInput, TooManyRequests, UpstreamError, UsdtPayError
from engine.exchanges.supplement import is_exchange_order
from engine.merchants import merchant_name
from engine.models import Order
from engine.seen.service import PayerView, confirmations, payer_view
from engine.settlement import MatchRules, rules_for
from engine.supplement import (
    AmountDiffers,
    SupplementRejected,
    TxNotFinal,
    TxNotFound,
    WrongRecipient,
    check_order,
    ensure_hash_unused,
    verify_and_settle,
)
from watchers.readers import open_reader

log = logging.getLogger("usdtpay.api.payer")


def shown_hash(order: Order, tx_hash: str) -> str:
    """As the payer's wallet shows it: 0x-prefixed on Ethereum, bare on TRON."""
    return "0x" + tx_hash if order.chain == "eth" else tx_hash


def view_fields(order: Order, view: PayerView) -> dict[str, Any]:
    """`seen` and `near_miss` as the faces answer them (null when nothing)."""
    seen = None
    if view.confirming is not None:
        c = view.confirming
        left = None if c.needed is None else max(0, c.needed - c.confirmations + 1)  # final one block after N
        seen = {
            "tx_hash": shown_hash(order, c.tx_hash),
            "amount": money.format_usdt(c.amount_units),
            "block": c.block_number,
            "confirmations": c.confirmations,
            "needed": c.needed,
            "seconds_left": None if left is None else int(left * BLOCK_SECONDS.get(order.chain or "", 3.0)),
        }
    miss = None
    if view.near_miss is not None:
        m = view.near_miss
        miss = {
            "reason": m.reason,
            "sent": money.format_usdt(m.sent_units),
            "needed": money.format_usdt(m.needed_units),
            "tx_hash": shown_hash(order, m.tx_hash),
            "final": m.final,
        }
    return {"seen": seen, "near_miss": miss}


async def payment_fields(state: AppState, order: Order) -> dict[str, Any]:
    if order.chain is None or order.status == "paid":
        return {"seen": None, "near_miss": None}
    view = await state.work.read(partial(payer_view, order=order))
    return view_fields(order, view)


def _info(conn: Connection, order: Order) -> tuple[str | None, PayerView]:
    return merchant_name(conn, order.merchant_id), payer_view(conn, order)


async def info_fields(state: AppState, order: Order) -> dict[str, Any]:
    """The page's first load: who is being paid, and the payment so far
    (one read: engine.work, no write lock)."""
    name, view = await state.work.read(partial(_info, order=order))
    return {"merchant_name": name if name is not None else "", **view_fields(order, view)}


SEEN_DOC = doc.nullable(
    doc.obj(
        {
            "tx_hash": doc.string(),
            "amount": doc.string("USDT the transfer sends"),
            "block": doc.integer(),
            "confirmations": doc.integer("n: the block holding the transfer counts as 1"),
            "needed": doc.integer("N: the chain's depth; final (and then paid) with the block after N / N"),
            "seconds_left": doc.integer("expected time until final, from the chain's block interval"),
        },
        description="extra: a transfer that pays the order, seen in a block that is not final yet; "
        "the order stays unpaid until it is final (and the transfer may still vanish in a reorg)",
    )
)
NEAR_MISS_DOC = doc.nullable(
    doc.obj(
        {
            "reason": doc.string(enum=("underpaid", "overpaid")),
            "sent": doc.string(),
            "needed": doc.string(),
            "tx_hash": doc.string(),
            "final": doc.boolean(),
        },
        description="extra: a transfer of another amount to the order's address; it does not pay the order",
    )
)
PAYMENT_DOCS = {"seen": SEEN_DOC, "near_miss": NEAR_MISS_DOC}


# -- "I have paid" ----------------------------------------------------------


def refused(said: Said, status: int) -> Response[Any]:
    return Response({"success": False, "status": 0, **said.fields()}, status_code=status)


def error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, Refused):
        return refused(exc.said, exc.status)
    if isinstance(exc, UsdtPayError):
        return refused(said_for_error(exc), 400 if isinstance(exc, BadInput) else exc.status)
    status, message = common.unexpected(exc, log)
    return refused(say("error", message), status)


def check_limits(state: AppState, source: str, order_id: int) -> None:
    """Per source, per order, and in all: each check may cost node requests."""
    for limiter, key in (
        (state.claim_limiter, f"ip:{source}"),
        (state.claim_limiter, f"order:{order_id}"),
        (state.claim_total, "all"),
    ):
        if not limiter.allow(key):
            raise TooManyRequests("too many payment checks; retry in a minute")


def explain(exc: SupplementRejected, order: Order, lookup: TxLookup | None, rules: MatchRules) -> Said:
    """The payer's sentence for a failed check, with the figures that matter."""
    chain = order.chain or ""
    if isinstance(exc, TxNotFound):
        return say("tx_not_found", **chain_names(chain))
    if isinstance(exc, TxNotFinal):
        if lookup is None or lookup.block_number is None:
            return say("tx_pending")
        n, needed = confirmations(lookup.block_number, lookup.head, lookup.final_head)
        return say("tx_not_final", n=n, needed=needed or "?")
    usdt = [t for t in (lookup.transfers if lookup else ()) if rules.same_token(chain, t.token_contract)]
    if isinstance(exc, WrongRecipient):
        return say("wrong_recipient", to=", ".join(sorted({t.to_address for t in usdt})) or "?")
    if isinstance(exc, AmountDiffers) and order.usdt_units is not None:
        ours = [t for t in usdt if t.to_address == order.address] or usdt
        sent = ", ".join(money.format_usdt(t.amount_units) for t in ours)
        reason = "underpaid" if ours and ours[0].amount_units < order.usdt_units else "overpaid"
        return say("amount_differs", sent=sent, needed=money.format_usdt(order.usdt_units), **advice(reason))
    return say(exc.code, exc.message, **chain_names(chain))


def chain_hash(raw: str) -> str:
    try:
        return normalize_tx_hash(raw)
    except BadInput as exc:
        raise Refused(say("bad_hash"), 422) from exc


async def look_up(state: AppState, chain: str, tx_hash: str) -> TxLookup:
    async with open_reader(state.settings, chain) as reader:
        try:
            return await reader.transaction(tx_hash)
        except UsdtPayError:
            raise
        except Exception as exc:
            raise UpstreamError(f"the {chain} node could not be asked ({type(exc).__name__})") from exc


async def verify(state: AppState, order: Order, tx_hash: str) -> Order:
    """The supplement's checks and settlement; SupplementRejected explained."""
    lookup: TxLookup | None = None
    rules = rules_for(state.settings, order.chain or "tron")
    try:
        async with state.sessions() as session:
            chain = check_order(order, tx_hash)
            await ensure_hash_unused(session, order, tx_hash)
        lookup = await look_up(state, chain, tx_hash)
        async with unit_of_work(state.sessions) as session:
            return await verify_and_settle(session, order.id, tx_hash, lookup, rules, state.now())
    except SupplementRejected as exc:
        raise Refused(explain(exc, order, lookup, rules), exc.status) from exc


CLAIM_ANSWER = doc.obj(
    {
        "success": doc.boolean(),
        "status": doc.integer("1 paid, 0 not paid", enum=(0, 1)),
        "code": doc.string("why not: tx_not_found, tx_not_final, amount_differs, wrong_recipient, ..."),
        "msg": doc.string("English"),
        "msg_zh": doc.string("Chinese"),
        "msg_en": doc.string("English"),
        "return_url": doc.string(),
    },
    required=("success", "status"),
)


@post(
    "/api/cashier/paid",
    operation_id="cashierClaimPaid",
    summary="I have paid: verify a transaction hash for an order (the cashier page)",
    description="Unsigned; rate-limited per source, per order and in all. The hash is checked exactly as "
    "`POST /api/pay/supplement` checks one (final, USDT, this order's address, the exact amount, in the "
    "order's window, not used before); a failed check answers 422 with `code` and the reason in both "
    "languages. For an exchange order (seed 004 type 2) `hash` is that exchange's identifier of the "
    "transfer (OKX order number, Binance transaction id, HTX TxID), checked at the exchange as the "
    "supplement checks it; those checks are also limited per receiving account.",
    status_code=200,
    tags=["cashier page"],
    operation_class=doc.documented(
        body=doc.obj(
            {
                "orderId": doc.string("订单号"),
                "hash": doc.string(
                    "transaction hash, with or without 0x; for an exchange order its identifier"
                ),
            },
            required=("orderId", "hash"),
        ),
        body_example={"orderId": "1738155990123", "hash": "0x" + "3e" * 32},
        form=True,
        answer=CLAIM_ANSWER,
        answer_example={"success": True, "status": 1, "msg": "Paid", "msg_zh": "支付成功", "msg_en": "Paid"},
        error=CLAIM_ANSWER,
        error_example={
            "success": False,
            "status": 0,
            "code": "amount_differs",
            "msg": "This transfer sent 13.89 USDT; the order needs 13.890001 USDT. ...",
            "msg_zh": "这笔转账金额为 13.89 USDT,本订单需要 13.890001 USDT。……",
        },
        error_statuses=(400, 404, 422, 429, 502, 503),
    ),
)
async def claim_paid(request: Request[Any, Any, Any], app_state: AppState) -> Response[Any]:
    fields = await read_fields(request)
    order_id = common.parse_order_id(fields.get("orderId"), "orderId")
    raw_hash = text_field(fields, "hash", max_len=100)
    check_limits(app_state, client_source(request), order_id)
    order = await common.load_order(app_state, order_id)
    exchange = is_exchange_order(order)  # then `hash` is the exchange's identifier, checked there
    tx_hash = raw_hash if exchange else chain_hash(raw_hash)
    if order.status != "paid":
        if exchange:
            order = await payer_exchange.verify(app_state, order, tx_hash)
        else:
            order = await verify(app_state, order, tx_hash)
        log.info("order paid from the cashier's hash check", extra={"order_id": order.id})
    paid = {"success": True, "status": 1, "state": "paid", "return_url": order.return_url}
    return Response({**paid, "code": "paid", "msg": "Paid", "msg_zh": "支付成功", "msg_en": "Paid"})


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[claim_paid],
        exception_handlers={Exception: error_response},
    )
