"""Repository-style reads of orders."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import Merchant, Order


async def get_order(session: AsyncSession, order_id: int, *, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.id == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def _by_merchant_no(merchant_id: int, order_no: str, open_create: bool) -> Select[Order]:
    return select(Order).where(
        Order.merchant_id == merchant_id,
        Order.open_create.is_(open_create),
        Order.merchant_order_no == order_no,
    )


async def get_by_merchant_no(
    session: AsyncSession, merchant_id: int, order_no: str, *, open_create: bool = False
) -> Order | None:
    """A merchant's order by its number: those it created with its key or
    signature, or (open_create) those created from a trusted network only."""
    return (await session.scalars(_by_merchant_no(merchant_id, order_no, open_create))).one_or_none()


def find_by_merchant_no(
    session: Session, merchant_id: int, order_no: str, *, open_create: bool = False
) -> Order | None:
    """get_by_merchant_no inside a sync unit of work (engine.work)."""
    return session.scalars(_by_merchant_no(merchant_id, order_no, open_create)).one_or_none()


async def require_by_merchant_no(session: AsyncSession, merchant: Merchant, order_no: str) -> Order:
    order = await get_by_merchant_no(session, merchant.id, order_no)
    if order is None:
        raise NotFound(f"merchant {merchant.pid} has no order {order_no!r}")
    return order


async def require_order(session: AsyncSession, order_id: int) -> Order:
    order = await get_order(session, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order
