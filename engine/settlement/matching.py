"""Which order a transfer settles, or why it settles none (invariant 3).

Pure decisions over rows already loaded; the database reads that feed them
live in `ingest`. Windows of two orders on one (address, amount) never
overlap: a slot is re-let only after the previous holder's expiry plus the
late window (invariant 2), so at most one candidate is in its window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.chain import ChainTransfer
from engine.models import Order
from engine.settlement.rules import SETTLEABLE, MatchRules, Reason


@dataclass(frozen=True)
class Verdict:
    """`reason` None means: settle `order_id`. Otherwise the transfer is
    unmatched and `order_id` names the likely order (for auditors), if any."""

    order_id: int | None
    reason: Reason | None


def window_of(order: Order, rules: MatchRules) -> tuple[datetime, datetime]:
    # Block timestamps are whole seconds: a payment mined in the same second
    # the order was created carries a time up to 1 s before created_at.
    return order.created_at.replace(microsecond=0), order.expires_at + rules.late_window


def in_window(order: Order, when: datetime, rules: MatchRules) -> bool:
    start, end = window_of(order, rules)
    return start <= when <= end


def judge(
    transfer: ChainTransfer,
    candidates: Iterable[Order],
    rules: MatchRules,
) -> Verdict | None:
    """Decide for a transfer given the orders on its exact (address, amount).

    Returns None when no order has that exact amount: the caller then looks
    for the likely order near the amount (under / over payment).
    """
    orders = list(candidates)
    when = transfer.block_time
    current = [o for o in orders if in_window(o, when, rules)]
    likely = current[0].id if current else (nearest(orders, when, rules).id if orders else None)
    if not transfer.success:
        return Verdict(likely, Reason.FAILED_RECEIPT)
    if not rules.same_token(transfer.chain, transfer.token_contract):
        return Verdict(likely, Reason.WRONG_TOKEN)
    if current:
        # Prefer a settleable order should two windows ever touch at a boundary.
        current.sort(key=lambda o: (o.status not in SETTLEABLE, o.created_at))
        order = current[0]
        if order.status == "paid":
            return Verdict(order.id, Reason.ALREADY_PAID)
        if order.status not in SETTLEABLE:
            return Verdict(order.id, Reason.ORDER_CLOSED)
        return Verdict(order.id, None)
    if orders:
        order = nearest(orders, when, rules)
        return Verdict(order.id, Reason.TOO_EARLY if when < order.created_at else Reason.TOO_LATE)
    return None


def nearest(orders: list[Order], when: datetime, rules: MatchRules) -> Order:
    """The order whose window lies closest to `when`."""

    def distance(order: Order) -> timedelta:
        start, end = window_of(order, rules)
        if when < start:
            return start - when
        return max(timedelta(0), when - end)

    return min(orders, key=distance)


def near_amount_verdict(transfer: ChainTransfer, likely: Order | None) -> Verdict:
    """A transfer without an exact-amount order: under / over pay of the
    live order at that address closest in amount, or no order at all."""
    if likely is None or likely.usdt_units is None:
        return Verdict(None, Reason.NO_ORDER)
    reason = Reason.UNDERPAID if transfer.amount_units < likely.usdt_units else Reason.OVERPAID
    return Verdict(likely.id, reason)
