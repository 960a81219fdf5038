"""Fiat reconciliation, pure over data: each channel payment row against
what the channel's own query API says about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.audit.findings import Finding, Kind
from engine.models import ChannelPayment, Order
from engine.money import format_fen


@dataclass(frozen=True)
class ChannelView:
    """The channel's answer for one payment, in engine terms (the caller
    converts the bridge's ChannelEvent; the engine does not import bridges)."""

    status: str  # pending | paid | closed | failed | refunded
    amount_fen: int
    channel_trade_no: str
    paid_at: datetime | None = None


# Row states that agree with a channel state (a payment the channel closed
# may still show pending here until the fiat query step closes it).
AGREES = {
    "pending": {"pending", "closed", "failed"},
    "paid": {"paid"},
    "closed": {"closed", "failed", "pending"},
    "failed": {"failed", "closed", "pending"},
    "refunded": {"refunded"},
}


def reconcile_payment(payment: ChannelPayment, order: Order | None, view: ChannelView | None) -> Finding:
    fields: dict[str, Any] = {
        "source": payment.channel,
        "unit": "CNY",
        "order_id": payment.order_id,
        "merchant_order_no": order.merchant_order_no if order else None,
        "order_status": order.status if order else None,
        "tx_hash": (view.channel_trade_no if view else None) or payment.channel_trade_no,
        "block_time": payment.paid_at or payment.created_at,
        "address": payment.out_trade_no,
        "expected_units": order.fiat_fen if order else None,
        "db_units": payment.amount_fen,
        "reason": payment.status,
    }
    if view is None:
        if payment.status == "paid" or (order is not None and order.status == "paid"):
            msg = f"recorded paid, but {payment.channel} does not know {payment.out_trade_no}"
            return Finding(kind=Kind.FIAT_UNKNOWN_AT_CHANNEL, message=msg, **fields)
        msg = "never paid; the channel does not know it (the payer did not open it)"
        return Finding(kind=Kind.FIAT_MATCHED, message=msg, **fields)
    fields["chain_units"] = view.amount_fen
    if view.amount_fen != payment.amount_fen:
        recorded, charged = format_fen(payment.amount_fen), format_fen(view.amount_fen)
        msg = f"amount {recorded} recorded, {charged} at the channel"
        return Finding(kind=Kind.FIAT_AMOUNT_DIFFERS, message=msg, **fields)
    order_paid = order is not None and order.status == "paid"
    # Another payment of the same order may have paid it, so only a paid
    # payment demands a paid order.
    if view.status not in AGREES.get(payment.status, set()) or (view.status == "paid" and not order_paid):
        order_state = order.status if order else "missing"
        msg = f"channel says {view.status}; payment row {payment.status}, order {order_state}"
        return Finding(kind=Kind.FIAT_STATUS_DIFFERS, message=msg, **fields)
    return Finding(kind=Kind.FIAT_MATCHED, message=f"channel and database agree: {view.status}", **fields)


def reconcile_fiat(
    payments: list[ChannelPayment], orders: dict[int, Order], views: dict[str, ChannelView | None]
) -> list[Finding]:
    """`views` is keyed by out_trade_no; a payment missing from it was not
    queried (its channel is not configured) and is left out."""
    return [
        reconcile_payment(p, orders.get(p.order_id), views[p.out_trade_no])
        for p in payments
        if p.out_trade_no in views
    ]
