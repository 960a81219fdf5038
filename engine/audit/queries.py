"""Database reads for a reconciliation. Each function runs in a short
session of its own caller; none of them touches the network."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import ChannelPayment, Order, Transfer, Wallet


async def receiving_addresses(session: AsyncSession, chain: str) -> frozenset[str]:
    """Every wallet of the chain, disabled ones too (they can still receive),
    plus any address an order was given."""
    wallets = await session.scalars(select(Wallet.address).where(Wallet.chain == chain))
    on_orders = await session.scalars(
        select(Order.address).where(Order.chain == chain, Order.address.is_not(None)).distinct()
    )
    return frozenset([*wallets, *(a for a in on_orders if a)])


async def transfers_to(
    session: AsyncSession, chain: str, address: str, start: datetime, end: datetime
) -> list[Transfer]:
    """Transfers recorded to one address (an exchange account's uid) in a time window."""
    stmt = select(Transfer).where(
        Transfer.chain == chain, Transfer.to_address == address, Transfer.block_time.between(start, end)
    )
    return list(await session.scalars(stmt))


async def recorded_transfers(session: AsyncSession, chain: str, start: int, end: int) -> list[Transfer]:
    stmt = select(Transfer).where(
        Transfer.chain == chain, Transfer.block_number >= start, Transfer.block_number <= end
    )
    return list(await session.scalars(stmt.order_by(Transfer.block_number, Transfer.id)))


async def paid_orders(
    session: AsyncSession, chain: str, start: int, end: int, since: datetime, until: datetime
) -> list[Order]:
    """Paid orders whose recorded block lies in [start, end]; orders paid
    without a block number count by their paid time."""
    in_range = and_(Order.block_number >= start, Order.block_number <= end)
    by_time = and_(Order.block_number.is_(None), Order.paid_at >= since, Order.paid_at <= until)
    stmt = select(Order).where(Order.chain == chain, Order.status == "paid", or_(in_range, by_time))
    return list(await session.scalars(stmt))


async def orders_by_ids(session: AsyncSession, ids: Iterable[int]) -> list[Order]:
    wanted = sorted(set(ids))
    found: list[Order] = []
    for i in range(0, len(wanted), 500):  # keep IN lists short for every backend
        found.extend(await session.scalars(select(Order).where(Order.id.in_(wanted[i : i + 500]))))
    return found


async def orders_by_hashes(session: AsyncSession, hashes: Iterable[str]) -> list[Order]:
    """Orders that record one of `hashes`, in any of the spellings stored
    (lower-case, with or without 0x)."""
    forms = sorted({form for h in hashes for form in (h, "0x" + h, h.upper(), "0x" + h.upper())})
    found: list[Order] = []
    for i in range(0, len(forms), 500):
        found.extend(await session.scalars(select(Order).where(Order.tx_hash.in_(forms[i : i + 500]))))
    return found


async def candidate_orders(
    session: AsyncSession, chain: str, addresses: Iterable[str], since: datetime, until: datetime
) -> list[Order]:
    """Orders an unmatched transfer in [since, until] may have been meant for."""
    wanted = sorted(set(addresses))
    if not wanted:
        return []
    stmt = select(Order).where(
        Order.chain == chain,
        Order.address.in_(wanted),
        Order.created_at >= since - timedelta(days=1),
        Order.created_at <= until,
    )
    return list(await session.scalars(stmt))


async def channel_payments(
    session: AsyncSession, since: datetime, until: datetime, channels: Iterable[str]
) -> list[ChannelPayment]:
    """Payments created or paid in the window, on the given channels."""
    in_window = or_(
        and_(ChannelPayment.created_at >= since, ChannelPayment.created_at <= until),
        and_(ChannelPayment.paid_at >= since, ChannelPayment.paid_at <= until),
    )
    stmt = select(ChannelPayment).where(ChannelPayment.channel.in_(list(channels)), in_window)
    return list(await session.scalars(stmt.order_by(ChannelPayment.created_at)))
