"""For operators: what was sent, what failed, and sending again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import BusinessRule, NotFound
from engine.models import Notification, NotificationAttempt
from engine.notify import queries


@dataclass(frozen=True)
class DeliveryView:
    notification: Notification
    attempts: list[NotificationAttempt]


async def list_deliveries(
    session: AsyncSession,
    *,
    failed_only: bool = False,
    order_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Newest first, each with its attempts in order."""
    rows = await queries.notifications(
        session, failed_only=failed_only, order_id=order_id, status=status, limit=limit
    )
    attempts: dict[int, list[NotificationAttempt]] = {row.id: [] for row in rows}
    if rows:
        for attempt in await queries.attempts_of(session, list(attempts)):
            attempts[attempt.notification_id].append(attempt)
    return [DeliveryView(row, attempts[row.id]) for row in rows]


async def find_notification(session: AsyncSession, ref: str) -> Notification:
    """By numeric id or by delivery id."""
    row = await queries.notification_by_ref(session, ref)
    if row is None:
        raise NotFound(f"no notification {ref!r}; see `usdtpay notify list`")
    return row


async def schedule_retry(
    session: AsyncSession, ref: str, now: datetime, *, force: bool = False
) -> Notification:
    """Make a notification due now; flush only.

    A failed row gets one more attempt (its schedule is spent, so if that
    attempt fails too it is failed again). A delivered row was acknowledged
    by the merchant and is sent again only with `force`; the merchant sees
    the same X-Delivery-Id and can tell it is a repeat.
    """
    row = await find_notification(session, ref)
    if row.status == "delivered" and not force:
        raise BusinessRule(
            f"notification {row.id} was acknowledged at {row.delivered_at:%Y-%m-%d %H:%M:%S}Z; "
            "add --force to send it again"
        )
    if row.claimed_until is not None and row.claimed_until > now:
        raise BusinessRule(f"notification {row.id} is being sent right now; check again in a moment")
    row.status = "pending"
    row.next_attempt_at = now
    row.claimed_until = None
    await session.flush()
    return row


async def give_up(session: AsyncSession, ref: str, now: datetime) -> Notification:
    """Stop sending a pending notification (an operator's call, e.g. the shop
    is gone); flush only. It stays listed as failed and can be retried."""
    row = await find_notification(session, ref)
    if row.status != "pending":
        raise BusinessRule(f"notification {row.id} is {row.status}; only a pending one can be given up")
    if row.claimed_until is not None and row.claimed_until > now:
        raise BusinessRule(f"notification {row.id} is being sent right now; check again in a moment")
    row.status = "failed"
    row.last_error = "given up by an operator"
    await session.flush()
    return row
