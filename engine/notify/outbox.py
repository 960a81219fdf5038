"""Writing notifications into the outbox, in the caller's transaction.

Settlement calls `enqueue_order_event` in the same unit of work as the
status change, so the change and its notification commit together (or not
at all). The body is built here, per face, and never changes afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine import epay
from engine.models import Merchant, Notification, Order
from engine.notify import payloads, queries

# Which signing/delivery scheme serves an order, by the face that created it.
SCHEME_BY_FACE = {"usdt": "usdt", "dryad": "dryad", "quickpay": "quickpay", "epay": "epay"}
# The seeds document a notification for a successful payment only.
NOTIFIED_EVENTS = frozenset({"paid"})


async def quickpay_wallet(session: AsyncSession, order: Order) -> str:
    """Which wallet (wechat / alipay) paid a QuickPay order: the last part
    of the reuse key (`kind|openid|appid|wallet`) its payment's pay data
    was stored with when the face opened it (api.http.channel_payments)."""
    if order.channel != "quickpay":
        return ""
    pay_data = await queries.paid_pay_data(session, order.id)
    return str(pay_data.get("key", "")).rpartition("|")[2]


async def build_body(session: AsyncSession, scheme: str, order: Order, merchant: Merchant) -> str:
    if scheme == "usdt":
        return payloads.usdt_body(order, merchant)
    if scheme == "epay":
        return epay.notification_body(order, merchant, await quickpay_wallet(session, order))
    # dryad's tradeId and quickpay's transaction_no: the payment the face
    # handed out when the order was created (the order id if none).
    payment_id = await queries.latest_payment_id(session, order.id)
    trade_id = payment_id if payment_id is not None else order.id
    if scheme == "dryad":
        return payloads.dryad_body(order, trade_id)
    return payloads.quickpay_body(order, merchant, trade_id)


async def enqueue_order_event(
    session: AsyncSession, order: Order, merchant: Merchant, event: str, now: datetime
) -> Notification | None:
    """Add the merchant notification for `event` on `order`; flush only.

    Returns None when the order's face sends no notifications, the order has
    no notify URL, or the event is not one the face documents. Calling it
    again for the same order and event returns the existing row, so a
    replayed settlement never notifies twice.
    """
    scheme = SCHEME_BY_FACE.get(order.face)
    if scheme is None or not order.notify_url or event not in NOTIFIED_EVENTS:
        return None
    existing = await queries.event_notification(session, order.id, event)
    if existing is not None:
        return existing
    row = Notification(
        delivery_id=str(uuid.uuid4()),
        order_id=order.id,
        merchant_id=merchant.id,
        scheme=scheme,
        event=event,
        url=order.notify_url,
        body=await build_body(session, scheme, order, merchant),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row
