"""Prepared SELECTs (engine.prepared_reads) give exactly the rows SQLAlchemy
gives, on SQLite's own cursor and through SQLAlchemy elsewhere, and the read
paths built on them see committed writes at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from engine.models import Order
from engine.orders import queries
from engine.prepared_reads import PreparedSelect
from engine.seen import queries as seen_queries
from tests.dbharness import Db
from tests.factories import T0, make_merchant, make_order, make_wallets, paying, transfer_row

STATEMENTS = {
    "order by id": (queries._BY_ID, "order"),
    "order by number": (queries._BY_NO, "number"),
    "order state by number": (queries._STATE_BY_NO, "number"),
    "near miss": (seen_queries._LATEST_NEAR_MISS, "order"),
}


@pytest.fixture
async def paid_order(any_db: Db) -> Order:
    """An order with every kind of column filled: times, flags, JSON."""
    await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    order = await make_order(any_db, chain="tron")
    async with any_db.sessions() as session:
        changes = {"status": "paid", "paid_late": True, "paid_at": T0 + timedelta(minutes=7, microseconds=5)}
        changes["extra"] = {"offer": ["a"]}
        await session.execute(update(Order).where(Order.id == order.id).values(**changes))
        assert order.usdt_units is not None
        short = paying(order, amount_units=order.usdt_units - 1)
        session.add(transfer_row(short, order.id, reason="underpaid"))
        await session.commit()
    return order


def both_ways(conn: Connection, prepared: PreparedSelect, params: dict[str, Any]) -> tuple[list, list]:  # type: ignore[type-arg]
    through_sqlalchemy = [dict(row) for row in conn.execute(prepared.statement, params).mappings()]
    return prepared.all(conn, params), through_sqlalchemy


@pytest.mark.parametrize("name", list(STATEMENTS))
async def test_rows_are_what_sqlalchemy_gives(any_db: Db, paid_order: Order, name: str) -> None:
    prepared, kind = STATEMENTS[name]
    params: dict[str, Any] = {"order_id": paid_order.id}
    if kind == "number":
        params = {"merchant_id": paid_order.merchant_id, "order_no": paid_order.merchant_order_no}
        params["open_create"] = False
    mine, theirs = await any_db.work.read(lambda conn: both_ways(conn, prepared, params))
    assert mine and mine == theirs
    types = [[type(v) for v in row.values()] for row in theirs]
    assert [[type(v) for v in row.values()] for row in mine] == types


@pytest.mark.parametrize("name", list(STATEMENTS))
async def test_first_values_are_the_rows_values(any_db: Db, paid_order: Order, name: str) -> None:
    prepared, kind = STATEMENTS[name]
    params: dict[str, Any] = {"order_id": paid_order.id}
    if kind == "number":
        params = {"merchant_id": paid_order.merchant_id, "order_no": paid_order.merchant_order_no}
        params["open_create"] = False
    first, values = await any_db.work.read(
        lambda conn: (prepared.first(conn, params), prepared.first_values(conn, params))
    )
    assert first is not None and values == tuple(first.values())
    assert [type(v) for v in values] == [type(v) for v in first.values()]
    none = {**params, "order_id": paid_order.id + 1, "order_no": "no-such-order"}
    assert await any_db.work.read(lambda conn: prepared.first_values(conn, none)) is None


async def test_the_order_reads_as_the_orm_loads_it(any_db: Db, paid_order: Order) -> None:
    read = await any_db.work.read(lambda conn: queries.find_by_id(conn, paid_order.id))
    async with any_db.sessions() as session:
        loaded = await queries.get_order(session, paid_order.id)
    assert read is not None and loaded is not None
    columns = [c.key for c in Order.__table__.columns]
    assert {c: getattr(read, c) for c in columns} == {c: getattr(loaded, c) for c in columns}
    assert read.paid_at is not None and read.paid_at.tzinfo is not None and read.paid_late is True
    assert await any_db.work.read(lambda conn: queries.find_by_id(conn, paid_order.id + 1)) is None


async def test_a_read_sees_a_commit_of_another_connection_at_once(any_db: Db, paid_order: Order) -> None:
    async with any_db.sessions() as session:  # the async engine's connection, not the runner's
        await session.execute(update(Order).where(Order.id == paid_order.id).values(status="closed"))
        await session.commit()
    read = await any_db.work.read(lambda conn: queries.find_by_id(conn, paid_order.id))
    assert read is not None and read.status == "closed"


async def test_an_in_of_a_list_is_refused_on_sqlite(db: Db) -> None:
    table: Any = Order.__table__
    prepared = PreparedSelect(select(table.c.id).where(table.c.status.in_(["paid", "closed"])))
    with pytest.raises(ValueError, match="expanding IN"):
        await db.work.read(lambda conn: prepared.all(conn, {}))
    fixed = PreparedSelect(select(table.c.id).where(table.c.id == bindparam("order_id")).limit(1))
    with pytest.raises(KeyError):  # a named parameter must be given
        await db.work.read(lambda conn: fixed.all(conn, {}))
