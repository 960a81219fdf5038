"""Reading merchants and receiving wallets, and what removing one would
break (its orders, the amounts held on an address)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from engine.models import Merchant, Order, Reservation, Wallet
from engine.prepared_reads import PreparedSelect


async def get_merchant(session: AsyncSession, pid: str, *, include_disabled: bool = False) -> Merchant | None:
    """The merchant by pid; a merchant disabled in the operator console is
    unknown to the faces (their callers pass no flag)."""
    stmt = select(Merchant).where(Merchant.pid == pid)
    if not include_disabled:
        stmt = stmt.where(Merchant.enabled.is_(True))
    return (await session.scalars(stmt)).one_or_none()


async def list_merchants(session: AsyncSession) -> list[Merchant]:
    return list(await session.scalars(select(Merchant).order_by(Merchant.id)))


async def list_wallets(session: AsyncSession, chain: str | None = None) -> list[Wallet]:
    stmt = select(Wallet).order_by(Wallet.chain, Wallet.id)
    if chain:
        stmt = stmt.where(Wallet.chain == chain)
    return list(await session.scalars(stmt))


async def wallet_at(session: AsyncSession, chain: str, canonical: str) -> Wallet | None:
    return await session.scalar(select(Wallet).where(Wallet.chain == chain, Wallet.address == canonical))


async def chain_addresses(session: AsyncSession, chain: str) -> frozenset[str]:
    """Every wallet address of the chain, disabled ones too."""
    return frozenset(await session.scalars(select(Wallet.address).where(Wallet.chain == chain)))


async def order_count(session: AsyncSession, merchant_id: int, *, status: str | None = None) -> int:
    stmt = select(func.count()).where(Order.merchant_id == merchant_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return int(await session.scalar(stmt) or 0)


async def live_holds(session: AsyncSession, chain: str, address: str, now: datetime) -> int:
    """Order amounts still reserved on the address."""
    stmt = select(func.count()).where(
        Reservation.chain == chain, Reservation.address == address, Reservation.held_until > now
    )
    return int(await session.scalar(stmt) or 0)


async def last_hold_until(session: AsyncSession, chain: str, address: str) -> datetime | None:
    return await session.scalar(
        select(func.max(Reservation.held_until)).where(
            Reservation.chain == chain, Reservation.address == address
        )
    )


_NAME = PreparedSelect(select(Merchant.name).where(Merchant.id == bindparam("merchant_id")))


def merchant_name(conn: Connection, merchant_id: int) -> str | None:
    """Who is being paid, as the cashier page shows it (disabled or not);
    None for no such merchant. Reads only."""
    row = _NAME.first(conn, {"merchant_id": merchant_id})
    return None if row is None else row["name"]
