"""Repository-style reads of orders, and the create path's Core statements."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, and_, bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper

from engine.errors import NotFound
from engine.models import Merchant, Order
from engine.prepared import Prepared
from engine.prepared_reads import PreparedSelect

ORDERS = cast(Table, Order.__table__)
# Built once: the create path runs these for every order, the read paths
# (query, cashier page, status polls) for every request.
_INSERT = Prepared(insert(ORDERS))
_NUMBERED = and_(
    ORDERS.c.merchant_id == bindparam("merchant_id"),
    ORDERS.c.open_create == bindparam("open_create"),
    ORDERS.c.merchant_order_no == bindparam("order_no"),
)
_BY_NO = PreparedSelect(select(ORDERS).where(_NUMBERED))
_BY_ID = PreparedSelect(select(ORDERS).where(ORDERS.c.id == bindparam("order_id")))


class OrderState(NamedTuple):
    """The columns a merchant's status query answers from (the usdt face's
    /api/pay/query): read without the rest of the row, whose columns cost
    more to decode than the lookup itself. A tuple, built straight from the
    row's values (a frozen dataclass spent a setattr per field)."""

    id: int
    merchant_order_no: str
    usdt_units: int | None
    fiat_fen: int | None
    status: str
    chain: str | None
    channel: str | None
    paid_at: datetime | None
    created_at: datetime


_STATE_BY_NO = PreparedSelect(select(*(ORDERS.c[name] for name in OrderState._fields)).where(_NUMBERED))


def insert_order(conn: Connection, values: Mapping[str, Any]) -> None:
    """One order row (every column given); the unique (merchant, order no)
    constraint raises IntegrityError for a repeat."""
    _INSERT.execute(conn, values)


def order_from_row(values: Mapping[str, Any]) -> Order:
    """An Order built the way the ORM loads a row: the values go straight
    into the instance, with no session and no attribute events (building
    one through Order(...) costs more than inserting it). For reading only:
    it belongs to no session, so changes to it are never stored."""
    order: Order = _order_manager().new_instance()
    order.__dict__.update(values)
    return order


def _order_manager() -> Any:
    """Order's class manager, once the mappers are configured: class_mapper
    configures them first, and a process whose first order is built here
    has used no ORM query yet (an unconfigured class's attributes cannot be
    read). Looked up once: class_mapper per order was a third of building it."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = class_mapper(Order).class_manager
    return _MANAGER


_MANAGER: Any = None


def find_stored(conn: Connection, merchant_id: int, order_no: str, open_create: bool = False) -> Order | None:
    """The order a merchant stored under `order_no` (in the number space of
    open creates with open_create), inside a unit of work (engine.work)."""
    params = {"merchant_id": merchant_id, "order_no": order_no, "open_create": open_create}
    row = _BY_NO.first(conn, params)
    return None if row is None else order_from_row(row)


def find_state(conn: Connection, merchant_id: int, order_no: str) -> OrderState | None:
    """The state of the order a merchant created (with its key or signature)
    as `order_no`, for reading only (engine.work's read)."""
    params = {"merchant_id": merchant_id, "order_no": order_no, "open_create": False}
    values = _STATE_BY_NO.first_values(conn, params)
    return None if values is None else OrderState._make(values)


def find_by_id(conn: Connection, order_id: int) -> Order | None:
    """The order with platform number `order_id`, for reading only (engine.work's read)."""
    row = _BY_ID.first(conn, {"order_id": order_id})
    return None if row is None else order_from_row(row)


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
