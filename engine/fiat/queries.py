"""Reading channel payments: the newest one of an order, and the pending
one a repeated request for the same pay data can reuse."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChannelPayment


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
