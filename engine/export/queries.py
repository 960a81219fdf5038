"""The rows an export reads, streamed (`yield_per`) so a large window
stays cheap: orders created in a window, orders paid in it with the channel
payment that paid them, and the transfers that settled nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChannelPayment, Merchant, Order, Transfer


async def _stream(session: AsyncSession, stmt: Executable) -> AsyncIterator[Any]:
    result = await session.stream(stmt.execution_options(yield_per=500))
    async for row in result:
        yield row


def _paid_trade_no() -> Any:
    """The channel's trade no of the payment that paid a fiat order."""
    return (
        select(ChannelPayment.channel_trade_no)
        .where(ChannelPayment.order_id == Order.id, ChannelPayment.status == "paid")
        .limit(1)
        .scalar_subquery()
    )


def orders_created(
    session: AsyncSession, since: datetime, until: datetime, merchant_id: int | None
) -> AsyncIterator[Any]:
    """(order, merchant pid, paid channel trade no) created in [since, until)."""
    stmt = (
        select(Order, Merchant.pid, _paid_trade_no())
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(Order.created_at >= since, Order.created_at < until)
        .order_by(Order.created_at, Order.id)
    )
    if merchant_id is not None:
        stmt = stmt.where(Order.merchant_id == merchant_id)
    return _stream(session, stmt)


def orders_paid(
    session: AsyncSession, since: datetime, until: datetime, merchant_id: int | None
) -> AsyncIterator[Any]:
    """(order, merchant pid, paid channel payment or None) paid in [since, until);
    an order paid twice at its channel comes twice."""
    paid_payment = and_(ChannelPayment.order_id == Order.id, ChannelPayment.status == "paid")
    stmt = (
        select(Order, Merchant.pid, ChannelPayment)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .outerjoin(ChannelPayment, paid_payment)
        .where(Order.status == "paid", Order.paid_at >= since, Order.paid_at < until)
        .order_by(Order.paid_at, Order.id)
    )
    if merchant_id is not None:
        stmt = stmt.where(Order.merchant_id == merchant_id)
    return _stream(session, stmt)


def unmatched_transfers(session: AsyncSession, since: datetime, until: datetime) -> AsyncIterator[Any]:
    """(transfer,) rows that settled no order, by block time in [since, until)."""
    stmt = (
        select(Transfer)
        .where(Transfer.status != "matched")
        .where(Transfer.block_time >= since, Transfer.block_time < until)
        .order_by(Transfer.block_time, Transfer.id)
    )
    return _stream(session, stmt)
