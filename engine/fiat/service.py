"""Fiat channel payments: opening a payment for an order, and settling what
a channel has said about it (a verified callback or a query answer).

The engine never sees a channel's wire format: callers pass any object with
the fields of `PaymentEvent` (the bridges' `ChannelEvent` fits). Settlement
is idempotent on (channel, channel trade no), checks the amount, and writes
the merchant notification in the same transaction (invariants 5 and 7).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import BadInput, BusinessRule, Conflict, NotFound
from engine.fiat import queries as fiat_queries
from engine.ids import new_platform_id
from engine.models import ChannelPayment, Merchant, Order
from engine.notify.outbox import enqueue_order_event
from engine.orders import queries
from engine.orders.schemas import CHANNELS, OrderStatus

log = logging.getLogger("usdtpay.fiat")


class PaymentEvent(Protocol):
    """A verified statement from a channel about one payment."""

    @property
    def out_trade_no(self) -> str: ...
    @property
    def channel_trade_no(self) -> str: ...
    @property
    def amount_fen(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def paid_at(self) -> datetime | None: ...


class FiatMismatch(Conflict):
    """A verified event that does not fit our records (amount, channel, trade
    number); nothing is changed and an operator should look."""

    code = "fiat_mismatch"


class Outcome(StrEnum):
    SETTLED = "settled"  # the order is now paid
    ALREADY = "already"  # the same event was settled before: nothing to do
    DUPLICATE = "duplicate"  # money came in for an order settled otherwise: refund it


@dataclass(frozen=True)
class Settled:
    outcome: Outcome
    order_id: int
    payment_id: int


async def open_payment(
    session: AsyncSession, order_id: int, *, channel: str, client_type: str, now: datetime
) -> ChannelPayment:
    """A pending ChannelPayment for a CNY order that can still be paid; flush only.
    Its `out_trade_no` is what the channel is told."""
    if channel not in CHANNELS:
        raise BadInput(f"channel must be one of {', '.join(CHANNELS)}")
    order = await queries.get_order(session, order_id, for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.status != OrderStatus.PENDING:
        raise BusinessRule(f"order {order_id} is {order.status}; it cannot be paid", code="order_not_pending")
    if now >= order.expires_at:
        raise BusinessRule(f"order {order_id} has expired; create a new order", code="order_expired")
    if order.fiat_fen is None:
        raise BusinessRule("fiat channels need an order priced in CNY", code="not_cny")
    check_means(order, channel)
    payment_id = new_platform_id()
    payment = ChannelPayment(
        id=payment_id,
        order_id=order.id,
        channel=channel,
        client_type=client_type,
        out_trade_no=str(payment_id),
        status="pending",
        amount_fen=order.fiat_fen,
        pay_data={},
        created_at=now,
    )
    session.add(payment)
    await session.flush()
    return payment


def check_means(order: Order, channel: str) -> None:
    """An order keeps the payment means its creator (or, at the cashier, its
    payer) chose: an order to be paid in USDT on a chain is never paid in
    CNY, and a channel order only through its channel. The merchant is
    told what paid, so nothing else may pay."""
    if order.chain is not None:
        raise BusinessRule(
            f"order {order.id} is to be paid in USDT on {order.chain}; it cannot be paid through {channel}",
            code="payment_means",
        )
    if order.channel is not None and order.channel != channel:
        raise BusinessRule(
            f"order {order.id} is to be paid through {order.channel}, not {channel}", code="payment_means"
        )


async def record_created(
    session: AsyncSession, payment_id: int, *, pay_data: dict[str, Any], channel_trade_no: str = ""
) -> ChannelPayment:
    """Store what the channel answered (QR content, pay URL, JSAPI params)."""
    payment = await _require_payment(session, payment_id)
    payment.pay_data = dict(pay_data)
    if channel_trade_no and not payment.channel_trade_no:
        payment.channel_trade_no = channel_trade_no
    await session.flush()
    return payment


async def mark_payment(session: AsyncSession, payment_id: int, status: str, note: str = "") -> bool:
    """Move a pending payment to closed / failed; a no-op otherwise."""
    if status not in ("closed", "failed"):
        raise ValueError(f"cannot mark a payment {status}")
    payment = await _require_payment(session, payment_id, for_update=True)
    if payment.status != "pending":
        return False
    payment.status = status
    if note:
        payment.pay_data = {**payment.pay_data, "note": note[:300]}
    await session.flush()
    return True


async def _require_payment(
    session: AsyncSession, payment_id: int, *, for_update: bool = False
) -> ChannelPayment:
    payment = await fiat_queries.payment_by_id(session, payment_id, for_update=for_update)
    if payment is None:
        raise NotFound(f"no channel payment {payment_id}")
    return payment


async def _check_event(session: AsyncSession, event: PaymentEvent, channel: str) -> ChannelPayment:
    """The payment the event is about, locked; FiatMismatch if it does not fit."""
    payment = await fiat_queries.payment_to_settle(session, event.out_trade_no)
    if payment is None or payment.channel != channel:
        raise FiatMismatch(
            f"{channel} reported payment {event.out_trade_no[:64]!r}, which we did not open there"
        )
    if not event.channel_trade_no:
        raise FiatMismatch(f"{channel} event for {payment.out_trade_no} has no trade number")
    if event.amount_fen != payment.amount_fen:
        raise FiatMismatch(
            f"{channel} reported {event.amount_fen} fen for payment {payment.out_trade_no}, "
            f"which is for {payment.amount_fen} fen"
        )
    if payment.channel_trade_no and payment.channel_trade_no != event.channel_trade_no:
        raise FiatMismatch(
            f"payment {payment.out_trade_no} is bound to {channel} trade {payment.channel_trade_no}, "
            f"not {event.channel_trade_no[:64]}"
        )
    other = await fiat_queries.other_payment_of_trade(session, channel, event.channel_trade_no, payment.id)
    if other is not None:
        raise FiatMismatch(f"{channel} trade {event.channel_trade_no[:64]} already settled payment {other}")
    return payment


async def settle_channel_event(
    session: AsyncSession, event: PaymentEvent, channel: str, now: datetime
) -> Settled:
    """Apply a verified "paid" event; flush only, the caller commits.

    Raises FiatMismatch (nothing changed) when the event does not fit.
    """
    if event.status != "paid":
        raise BadInput(f"only paid events settle, got {event.status}")
    payment = await _check_event(session, event, channel)
    if payment.status == "paid":
        return Settled(Outcome.ALREADY, payment.order_id, payment.id)
    order = await queries.get_order(session, payment.order_id, for_update=True)
    if order is None:  # pragma: no cover - payments are only opened for orders
        raise NotFound(f"no order {payment.order_id}")
    paid_at = event.paid_at or now
    payment.status = "paid"
    payment.channel_trade_no = event.channel_trade_no
    payment.paid_at = paid_at
    if order.status not in (OrderStatus.PENDING, OrderStatus.EXPIRED):
        # The payer paid twice (another channel, or on chain): keep the record
        # so an operator refunds it; the order and the merchant are untouched.
        payment.pay_data = {**payment.pay_data, "duplicate": True}
        await session.flush()
        log.warning("duplicate fiat payment %s for %s order %s", payment.id, order.status, order.id)
        return Settled(Outcome.DUPLICATE, order.id, payment.id)
    await _mark_order_paid(session, order, payment, now)
    return Settled(Outcome.SETTLED, order.id, payment.id)


async def _mark_order_paid(
    session: AsyncSession, order: Order, payment: ChannelPayment, now: datetime
) -> None:
    assert payment.paid_at is not None
    order.paid_late = order.status == OrderStatus.EXPIRED or payment.paid_at > order.expires_at
    order.status = OrderStatus.PAID.value
    order.paid_at = payment.paid_at
    order.channel = payment.channel
    order.channel_trade_no = payment.channel_trade_no
    merchant = await session.get(Merchant, order.merchant_id)
    if merchant is None:  # pragma: no cover - a foreign key
        raise NotFound(f"order {order.id} has no merchant")
    await session.flush()
    await enqueue_order_event(session, order, merchant, "paid", now)
    ids = {"order_id": order.id, "payment_id": payment.id, "channel_trade_no": payment.channel_trade_no}
    log.info("order paid through %s", payment.channel, extra=ids)


async def expire_fiat_order(session: AsyncSession, order_id: int, now: datetime) -> bool:
    """Expire a fiat-only order past its expiry once no payment of it is open.

    Orders with a USDT reservation are left to the chain side, which honours
    the late-payment window.
    """
    order = await queries.get_order(session, order_id, for_update=True)
    if (
        order is None
        or order.status != OrderStatus.PENDING
        or order.chain is not None
        or now < order.expires_at
    ):
        return False
    if await fiat_queries.open_payment_of(session, order_id) is not None:
        return False
    order.status = OrderStatus.EXPIRED.value
    await session.flush()
    return True
