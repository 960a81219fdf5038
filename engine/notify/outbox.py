"""Writing notifications into the outbox, in the caller's transaction.

Owned by the notifications work (issue 4); settlement calls
`enqueue_order_event` in the same unit of work as the status change.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import Merchant, Notification, Order

# Which signing/delivery scheme serves an order, by the face that created it.
SCHEME_BY_FACE = {"usdt": "usdt", "dryad": "dryad", "quickpay": "quickpay"}


async def enqueue_order_event(
    session: AsyncSession, order: Order, merchant: Merchant, event: str, now: datetime
) -> Notification | None:
    """Add the merchant notification for `event` on `order`; flush only."""
    scheme = SCHEME_BY_FACE.get(order.face)
    if scheme is None or not order.notify_url:
        return None
    row = Notification(
        delivery_id=str(uuid.uuid4()),
        order_id=order.id,
        merchant_id=merchant.id,
        scheme=scheme,
        event=event,
        url=order.notify_url,
        body=json.dumps({"order_id": order.id, "event": event}),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row
