"""Reading notifications and their attempts: for operators (listing, one by
reference), for the outbox (the one already written for an event, the
channel payment a body names) and for delivery (due rows, the rows and
attempts a step records, locked in one order)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChannelPayment, Merchant, Notification, NotificationAttempt


async def notifications(
    session: AsyncSession,
    *,
    failed_only: bool = False,
    order_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Notification]:
    """Newest first."""
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(Notification.status == "failed")
    if status:
        stmt = stmt.where(Notification.status == status)
    if order_id is not None:
        stmt = stmt.where(Notification.order_id == order_id)
    return list((await session.scalars(stmt)).all())


async def attempts_of(session: AsyncSession, notification_ids: Sequence[int]) -> list[NotificationAttempt]:
    """The attempts of these notifications, in order."""
    found = await session.scalars(
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id.in_(list(notification_ids)))
        .order_by(NotificationAttempt.notification_id, NotificationAttempt.attempt_no)
    )
    return list(found)


async def notification_by_ref(session: AsyncSession, ref: str) -> Notification | None:
    """By numeric id or by delivery id."""
    conditions = [Notification.delivery_id == ref]
    if ref.isdigit():
        conditions.append(Notification.id == int(ref))
    return await session.scalar(select(Notification).where(or_(*conditions)))


async def event_notification(session: AsyncSession, order_id: int, event: str) -> Notification | None:
    return await session.scalar(
        select(Notification).where(Notification.order_id == order_id, Notification.event == event)
    )


async def latest_payment_id(session: AsyncSession, order_id: int) -> int | None:
    stmt = (
        select(ChannelPayment.id)
        .where(ChannelPayment.order_id == order_id)
        .order_by(ChannelPayment.created_at.desc(), ChannelPayment.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def paid_pay_data(session: AsyncSession, order_id: int) -> dict[str, Any]:
    """What the order's paid channel payment was opened with ({} if none)."""
    stmt = (
        select(ChannelPayment.pay_data)
        .where(ChannelPayment.order_id == order_id, ChannelPayment.status == "paid")
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none() or {}


async def due_ids(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int,
    exclude_merchants: Collection[int] = (),
    only_ids: Collection[int] | None = None,
) -> list[int]:
    """Up to `limit` due, unclaimed rows, oldest first, locked: on PostgreSQL
    `SKIP LOCKED`, so concurrent workers take disjoint rows."""
    stmt = select(Notification.id).where(
        Notification.status == "pending",
        Notification.next_attempt_at <= now,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
    )
    if exclude_merchants:
        stmt = stmt.where(Notification.merchant_id.not_in(list(exclude_merchants)))
    if only_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(only_ids)))
    stmt = stmt.order_by(Notification.id).limit(limit).with_for_update(skip_locked=True)
    return list((await session.scalars(stmt)).all())


async def with_merchant_keys(session: AsyncSession, ids: Sequence[int]) -> list[tuple[Notification, str]]:
    """The rows and their merchants' signing keys, in id order."""
    rows = await session.execute(
        select(Notification, Merchant.key)
        .join(Merchant, Merchant.id == Notification.merchant_id)
        .where(Notification.id.in_(list(ids)))
        .order_by(Notification.id)
    )
    return [(row, key) for row, key in rows]


async def attempts_by_id(session: AsyncSession, attempt_ids: Sequence[int]) -> dict[int, NotificationAttempt]:
    found = await session.scalars(
        select(NotificationAttempt).where(NotificationAttempt.id.in_(list(attempt_ids)))
    )
    return {a.id: a for a in found}


async def locked_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Notification]:
    """The rows, locked in id order (one lock order for every worker)."""
    found = await session.scalars(
        select(Notification).where(Notification.id.in_(list(ids))).order_by(Notification.id).with_for_update()
    )
    return {r.id: r for r in found}
