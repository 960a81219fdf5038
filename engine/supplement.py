"""Supplement by tx hash (seed 004 `POST /api/pay/supplement`, invariant 6).

The caller fetches the transaction with a chain reader it owns (the engine
has no chain code) and hands the `TxLookup` in; no database session is
held while the node is asked. Each failed check is its own error with a
stable code, in the order a merchant would look: does the chain know the
hash, is it final, did it succeed, which token, which recipient, which
amount, which payer, when, and was the hash used before. Success settles
through the watcher's own code path (`settle_transfer`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine import money
from engine.addresses import normalize, normalize_tx_hash
from engine.chain import ChainTransfer, TxLookup
from engine.errors import BusinessRule, NotFound
from engine.models import Order, Transfer
from engine.settlement import MatchRules, Settle, queries, settle_transfer
from engine.settlement.matching import window_of
from engine.settlement.rules import SETTLEABLE


class SupplementRejected(BusinessRule):
    code = "supplement_rejected"


class NotOnChainOrder(SupplementRejected):
    code = "not_on_chain"


class Unsupported(SupplementRejected):
    code = "unsupported"


class OrderAlreadyPaid(SupplementRejected):
    code = "order_already_paid"


class OrderNotSettleable(SupplementRejected):
    code = "order_closed"


class TxNotFound(SupplementRejected):
    code = "tx_not_found"


class TxNotFinal(SupplementRejected):
    code = "tx_not_final"


class TxFailed(SupplementRejected):
    code = "tx_failed"


class WrongToken(SupplementRejected):
    code = "wrong_token"


class WrongRecipient(SupplementRejected):
    code = "wrong_recipient"


class AmountDiffers(SupplementRejected):
    code = "amount_differs"


class PayerDiffers(SupplementRejected):
    code = "payer_differs"


class TxTooEarly(SupplementRejected):
    code = "tx_too_early"


class TxTooLate(SupplementRejected):
    code = "tx_too_late"


class HashUsed(SupplementRejected):
    code = "hash_used"


def check_order(order: Order, tx_hash: str) -> str:
    """Checks that need no chain: returns the order's chain.

    An order already paid by this very hash answers success (a retried
    supplement); paid by another hash it is an error naming that hash.
    """
    if order.extra.get("type") == 2:
        raise Unsupported("supplement of type 2 (exchange internal transfer) orders is not supported yet")
    if order.chain is None or order.address is None or order.usdt_units is None:
        raise NotOnChainOrder(
            "this order has no on-chain payment details (a fiat order, or no chain picked yet); "
            "supplement by tx hash applies to USDT orders"
        )
    if order.status == "paid" and order.tx_hash != normalize_tx_hash(tx_hash):
        raise OrderAlreadyPaid(f"the order is already paid by transaction {order.tx_hash}")
    if order.status not in (*SETTLEABLE, "paid"):
        raise OrderNotSettleable(f"the order is {order.status}; it can no longer be paid")
    return order.chain


def _usdt(units: int) -> str:
    return money.format_usdt(units)


def pick_transfer(order: Order, lookup: TxLookup, rules: MatchRules, payer: str | None) -> ChainTransfer:
    """The Transfer log of the tx that pays `order`, or the first check it fails."""
    if not lookup.found:
        raise TxNotFound(
            f"the {order.chain} node does not know this transaction; check the hash and the chain"
        )
    if not lookup.final or lookup.block_number is None or lookup.block_time is None:
        raise TxNotFinal("the transaction is not final yet (too few confirmations); retry in a few minutes")
    if not lookup.success:
        raise TxFailed("the transaction failed on chain (reverted); nothing was transferred")
    assert order.chain is not None
    usdt = [t for t in lookup.transfers if rules.same_token(order.chain, t.token_contract)]
    if not usdt:
        tokens = sorted({t.token_contract for t in lookup.transfers}) or ["no token transfer"]
        raise WrongToken(
            f"the transaction moves no USDT ({rules.token_contract}); found: {', '.join(tokens)}"
        )
    ours = [t for t in usdt if t.to_address == order.address]
    if not ours:
        to = sorted({t.to_address for t in usdt})
        raise WrongRecipient(f"the USDT in this transaction went to {', '.join(to)}, not to {order.address}")
    exact = [t for t in ours if t.amount_units == order.usdt_units]
    if not exact:
        sent = ", ".join(_usdt(t.amount_units) for t in ours)
        assert order.usdt_units is not None
        raise AmountDiffers(
            f"the transaction sent {sent} USDT; the order asks exactly {_usdt(order.usdt_units)}"
        )
    if payer:
        want = normalize(order.chain, payer)
        exact = [t for t in exact if t.from_address == want]
        if not exact:
            raise PayerDiffers(f"the transfer was not sent from p_addr {want}")
    return _in_window(order, exact[0], rules)


def _in_window(order: Order, transfer: ChainTransfer, rules: MatchRules) -> ChainTransfer:
    start, end = window_of(order, rules)
    when = transfer.block_time
    if when < start:
        raise TxTooEarly(
            f"the transaction ({when:%Y-%m-%d %H:%M:%S}Z) predates the order ({start:%H:%M:%S}Z)"
        )
    if when > end:
        raise TxTooLate(
            f"the transaction ({when:%Y-%m-%d %H:%M:%S}Z) came after the order's expiry plus the "
            f"late-payment window ({end:%Y-%m-%d %H:%M:%S}Z)"
        )
    return transfer


async def ensure_hash_unused(session: AsyncSession, order: Order, tx_hash: str) -> None:
    """The cheap check, before asking a node: did this hash pay another order?"""
    other = await queries.order_paid_by(session, normalize_tx_hash(tx_hash), besides=order.id)
    if other is not None:
        raise HashUsed("this transaction hash already settled another order; each payment settles one order")


async def _check_hash_unused(session: AsyncSession, order: Order, transfer: ChainTransfer) -> Transfer | None:
    """Reject a hash another order was paid with; return this log's row if recorded."""
    other = await queries.order_paid_by(session, transfer.tx_hash, besides=order.id)
    row = await queries.recorded_transfer(session, transfer.chain, transfer.tx_hash, transfer.log_index)
    if other is not None or (row is not None and row.status == "matched" and row.order_id != order.id):
        raise HashUsed("this transaction hash already settled another order; each payment settles one order")
    return row


async def verify_and_settle(
    session: AsyncSession,
    order_id: int,
    tx_hash: str,
    lookup: TxLookup,
    rules: MatchRules,
    now: datetime,
    *,
    payer: str | None = None,
) -> Order:
    """Verify `lookup` against the order (invariants 3 and 6) and settle it; flush only."""
    order = await queries.lock_order(session, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    check_order(order, tx_hash)
    if order.status == "paid":  # by this same hash: answer as a retry would
        return order
    await ensure_hash_unused(session, order, tx_hash)
    transfer = pick_transfer(order, lookup, rules, payer)
    row = await _check_hash_unused(session, order, transfer)
    outcome = await settle_transfer(
        session,
        transfer,
        order.id,
        now,
        source="supplement",
        existing_transfer_id=row.id if row is not None else None,
    )
    if outcome is not Settle.SETTLED:
        raise OrderNotSettleable("the order changed while the transaction was verified; query it again")
    return order
