"""Operator queries: what was sent, what failed, and sending again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import BusinessRule, NotFound
from engine.models import Notification, NotificationAttempt


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
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(Notification.status == "failed")
    if status:
        stmt = stmt.where(Notification.status == status)
    if order_id is not None:
        stmt = stmt.where(Notification.order_id == order_id)
    rows = list((await session.scalars(stmt)).all())
    attempts: dict[int, list[NotificationAttempt]] = {row.id: [] for row in rows}
    if rows:
        found = await session.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id.in_(list(attempts)))
            .order_by(NotificationAttempt.notification_id, NotificationAttempt.attempt_no)
        )
        for attempt in found:
            attempts[attempt.notification_id].append(attempt)
    return [DeliveryView(row, attempts[row.id]) for row in rows]


async def find_notification(session: AsyncSession, ref: str) -> Notification:
    """By numeric id or by delivery id."""
    conditions = [Notification.delivery_id == ref]
    if ref.isdigit():
        conditions.append(Notification.id == int(ref))
    row = await session.scalar(select(Notification).where(or_(*conditions)))
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
