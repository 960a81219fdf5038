"""Reading channel payments: by id or trade number (locked where settling
needs it), the newest one of an order, the pending one a repeated request
for the same pay data can reuse, and those due for a query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChannelPayment, Order


@dataclass(frozen=True)
class DuePayment:
    payment_id: int
    out_trade_no: str
    channel: str
    order_id: int
    order_expires_at: datetime


async def payment_by_id(
    session: AsyncSession, payment_id: int, *, for_update: bool = False
) -> ChannelPayment | None:
    stmt = select(ChannelPayment).where(ChannelPayment.id == payment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def payment_by_out_trade_no(
    session: AsyncSession, channel: str, out_trade_no: str
) -> ChannelPayment | None:
    stmt = select(ChannelPayment).where(
        ChannelPayment.out_trade_no == out_trade_no, ChannelPayment.channel == channel
    )
    return (await session.scalars(stmt)).one_or_none()


async def payment_to_settle(session: AsyncSession, out_trade_no: str) -> ChannelPayment | None:
    """The payment a channel event names, locked, whichever channel it is of
    (the caller compares the channel, to say which one it was)."""
    stmt = select(ChannelPayment).where(ChannelPayment.out_trade_no == out_trade_no).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def other_payment_of_trade(
    session: AsyncSession, channel: str, channel_trade_no: str, payment_id: int
) -> int | None:
    """Another payment already bound to this channel trade, if any."""
    return await session.scalar(
        select(ChannelPayment.id).where(
            ChannelPayment.channel == channel,
            ChannelPayment.channel_trade_no == channel_trade_no,
            ChannelPayment.id != payment_id,
        )
    )


async def open_payment_of(session: AsyncSession, order_id: int) -> int | None:
    """A pending payment of the order, if any."""
    return await session.scalar(
        select(ChannelPayment.id).where(
            ChannelPayment.order_id == order_id, ChannelPayment.status == "pending"
        )
    )


async def due_for_query(
    session: AsyncSession,
    now: datetime,
    *,
    min_age_seconds: int,
    limit: int,
    skip: frozenset[int] = frozenset(),
) -> list[DuePayment]:
    """Pending payments old enough that their callback may have been lost."""
    stmt = (
        select(ChannelPayment, Order.expires_at)
        .join(Order, Order.id == ChannelPayment.order_id)
        .where(
            ChannelPayment.status == "pending",
            ChannelPayment.created_at <= now - timedelta(seconds=min_age_seconds),
        )
        .order_by(ChannelPayment.created_at)
        .limit(limit)
    )
    if skip:
        stmt = stmt.where(ChannelPayment.id.notin_(skip))
    rows = (await session.execute(stmt)).all()
    return [DuePayment(p.id, p.out_trade_no, p.channel, p.order_id, expires) for p, expires in rows]


async def newest_payment(
    session: AsyncSession, order_id: int, *, with_pay_data: bool = False
) -> ChannelPayment | None:
    """The order's newest channel payment (any channel, any state); with
    `with_pay_data`, the newest one whose channel answered with pay data."""
    stmt = (
        select(ChannelPayment)
        .where(ChannelPayment.order_id == order_id)
        .order_by(ChannelPayment.created_at.desc(), ChannelPayment.id.desc())
        .limit(20)
    )
    for payment in await session.scalars(stmt):
        if not with_pay_data or "created" in (payment.pay_data or {}):
            return payment
    return None


async def pending_payment_of_kind(
    session: AsyncSession, order_id: int, *, channel: str, client_type: str
) -> ChannelPayment | None:
    """The newest pending payment of this kind, so a repeated request can be
    answered with the pay data already issued."""
    stmt = (
        select(ChannelPayment)
        .where(
            ChannelPayment.order_id == order_id,
            ChannelPayment.channel == channel,
            ChannelPayment.client_type == client_type,
            ChannelPayment.status == "pending",
        )
        .order_by(ChannelPayment.created_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()
