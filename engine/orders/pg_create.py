"""PostgreSQL: an on-chain order and its unique amount in ONE statement.

Why: on PostgreSQL a create is mostly round trips. The general path
(engine.amounts.reserve, then the order insert, inside BEGIN ... COMMIT)
costs five, and each costs the server more CPU in the driver and in
SQLAlchemy than the database spends on it. Here one statement picks the
smallest free slot exactly as `amounts.reserve` does, takes it and inserts
the order, all of it or nothing.

`place` is the create path: the statements of the creates that arrive
while a batch runs go together, pipelined, in the next batch's one
transaction (engine.pg_batches), so a create costs neither a round trip
nor a commit of its own. Each statement of a batch sees the slots the
earlier ones took. What a batch does not place runs alone in
`insert_with_slot`, on the driver connection itself, where it commits on
its own in one round trip.

Invariant 2 stays the database's to enforce: the slot is taken by
`INSERT ... ON CONFLICT DO NOTHING` or, when its row's hold has lapsed, by
an `UPDATE ... WHERE held_until <= now`, both arbitrated by the unique
(chain, address, amount) row. The order row is inserted only when one of
them took the slot. A statement that lost its slot to a concurrent one
(which it waited for) took nothing and inserted nothing; it runs again,
with a snapshot that now shows the winner. A repeated order number fails
the order insert on its unique constraint (IntegrityError, as on the
general path), and the slot it took goes with it.

The smallest free slot: positions p = 0, 1, ... stand for the offset
k = p / n + 1 on the p % n-th enabled address (wallet order), n the number
of addresses. With L live reservations in the offset range, one of the
positions 0..L is free, so only those are looked at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import JSON, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.util import await_only

from engine.amounts import Slot, exhausted, no_wallet
from engine.errors import Unavailable
from engine.orders.queries import ORDERS
from engine.pg_batches import connection_lost
from engine.work import ConnectionRunner

# The order columns the statement inserts from parameters, in order;
# address and usdt_units come from the slot it takes.
ORDER_COLUMNS = (
    "id", "merchant_id", "merchant_order_no", "open_create", "face", "subject", "currency",
    "fiat_fen", "usdt_price_units", "rate", "chain", "channel", "status", "paid_late",
    "created_at", "expires_at", "paid_at", "notify_url", "return_url", "param", "transfer_id",
    "tx_hash", "payer_address", "block_number", "paid_units", "channel_trade_no", "extra",
    "fingerprint",
)  # fmt: skip
_POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
_JSON_COLUMNS = frozenset(c.name for c in ORDERS.c if isinstance(c.type, JSON))
_FIRST_ORDER_PARAM = 6  # $1..$5 are below


def _order_placeholders() -> str:
    """Each order parameter cast to its column's type: in INSERT ... SELECT
    PostgreSQL would take an untyped parameter for text. Strings as text,
    not varchar(n), which would cut a long value instead of refusing it."""
    marks = []
    for n, name in enumerate(ORDER_COLUMNS, start=_FIRST_ORDER_PARAM):
        type_ = ORDERS.c[name].type
        if isinstance(type_, JSON):
            marks.append(f"CAST(CAST(${n} AS text) AS json)")
        elif isinstance(type_, String):
            marks.append(f"CAST(${n} AS text)")
        else:
            marks.append(f"CAST(${n} AS {type_.compile(dialect=_POSTGRESQL)})")
    return ", ".join(marks)


# $1 chain, $2 base units, $3 step units, $4 slots, $5 now, then the order's
# columns from $6 (its id first), then $held: the slot's held_until. Only
# this module's constants are put into it; every value is a parameter.
# `live` looks up each address's range (LATERAL) bounded by the parameters
# themselves: so the whole (chain, address, amount_units) key is the index
# condition, whatever the statistics say. With the bounds from `bounds`'
# columns, or left to the planner's choice of join, PostgreSQL read every
# reservation of an address, or of the chain: milliseconds per create once
# there were thousands.
_TEMPLATE = """
WITH wallet AS (
    SELECT row_number() OVER (ORDER BY id) - 1 AS i, address
    FROM wallets WHERE chain = CAST($1 AS text) AND enabled
),
bounds AS (
    SELECT CAST($2 AS bigint) AS base, CAST($3 AS bigint) AS step, CAST($4 AS bigint) AS slots,
           CAST($5 AS timestamptz) AS now, CAST($held AS timestamptz) AS held_until
),
live AS (
    SELECT w.address, r.amount_units
    FROM wallet w CROSS JOIN LATERAL (
        SELECT amount_units FROM reservations
        WHERE chain = $1 AND address = w.address
          AND amount_units BETWEEN CAST($2 AS bigint) + CAST($3 AS bigint)
                               AND CAST($2 AS bigint) + CAST($4 AS bigint) * CAST($3 AS bigint)
          AND held_until > CAST($5 AS timestamptz)
        OFFSET 0
    ) r
),
counted AS (
    SELECT (SELECT count(*) FROM wallet) AS n, (SELECT count(*) FROM live) AS l
),
candidate AS (
    SELECT w.address, b.base + (p / c.n + 1) * b.step AS amount_units
    FROM bounds b, counted c, generate_series(0, c.l) AS p, wallet w
    WHERE c.n > 0 AND w.i = p % c.n AND p / c.n < b.slots$guard
      AND NOT EXISTS (
          SELECT 1 FROM live
          WHERE live.address = w.address AND live.amount_units = b.base + (p / c.n + 1) * b.step
      )
    ORDER BY p
    LIMIT 1
),
taken_new AS (
    INSERT INTO reservations (chain, address, amount_units, order_id, held_until)
    SELECT $1, c.address, c.amount_units, CAST($6 AS bigint), b.held_until
    FROM candidate c, bounds b
    ON CONFLICT DO NOTHING
    RETURNING address, amount_units
),
taken_lapsed AS (
    UPDATE reservations r SET order_id = CAST($6 AS bigint), held_until = b.held_until
    FROM candidate c, bounds b
    WHERE r.chain = $1 AND r.address = c.address AND r.amount_units = c.amount_units
      AND r.held_until <= b.now
    RETURNING r.address, r.amount_units
),
slot AS (
    SELECT address, amount_units FROM taken_new
    UNION ALL
    SELECT address, amount_units FROM taken_lapsed
),
placed AS (
    INSERT INTO orders ($columns, address, usdt_units)
    SELECT $values, slot.address, slot.amount_units FROM slot
    RETURNING address, usdt_units
)
SELECT c.n, (SELECT count(*) FROM candidate), placed.address, placed.usdt_units
FROM counted c LEFT JOIN placed ON true
"""
_STATEMENT = (
    _TEMPLATE.replace("$columns", ", ".join(ORDER_COLUMNS))
    .replace("$values", _order_placeholders())
    .replace("$held", f"${_FIRST_ORDER_PARAM + len(ORDER_COLUMNS)}")
)
SQL = _STATEMENT.replace("$guard", "")
# In a batch a repeated order number takes nothing instead of failing the
# order insert, which would roll the whole batch back; that order then runs
# alone (`place`), where it fails as on the general path. ($7, $8, $9: the
# order's merchant_id, merchant_order_no and open_create.)
SQL_BATCH = _STATEMENT.replace("$guard", "$repeat_guard")
_REPEAT_GUARD = (
    "\n      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.merchant_id = CAST($7 AS integer)"
    "\n          AND o.open_create = CAST($9 AS boolean) AND o.merchant_order_no = CAST($8 AS text))"
)

# A batch's first pass: most creates take offset 1 on the first enabled
# address (the smallest slot, when their price has no live order there).
# This statement takes just that slot, when free or lapsed, with its order,
# in about half the database's CPU of the search; the rest then search.
# Same parameters as SQL. ON CONFLICT's row lock on a live slot it does not
# take is held only until the pass commits.
_FIRST_FREE = """
WITH first AS (
    SELECT address FROM wallets WHERE chain = CAST($1 AS text) AND enabled ORDER BY id LIMIT 1
),
slot AS (
    INSERT INTO reservations AS r (chain, address, amount_units, order_id, held_until)
    SELECT $1, f.address, CAST($2 AS bigint) + CAST($3 AS bigint), CAST($6 AS bigint),
           CAST($held AS timestamptz)
    FROM first f
    WHERE CAST($4 AS bigint) >= 1$guard
    ON CONFLICT (chain, address, amount_units) DO UPDATE
        SET order_id = EXCLUDED.order_id, held_until = EXCLUDED.held_until
        WHERE r.held_until <= CAST($5 AS timestamptz)
    RETURNING address, amount_units
),
placed AS (
    INSERT INTO orders ($columns, address, usdt_units)
    SELECT $values, slot.address, slot.amount_units FROM slot
    RETURNING address, usdt_units
)
SELECT placed.address, placed.usdt_units FROM (SELECT 1) AS one LEFT JOIN placed ON true
"""
SQL_BATCH = SQL_BATCH.replace("$repeat_guard", _REPEAT_GUARD)
SQL_FIRST_FREE = (
    _FIRST_FREE.replace("$columns", ", ".join(ORDER_COLUMNS))
    .replace("$values", _order_placeholders())
    .replace("$held", f"${_FIRST_ORDER_PARAM + len(ORDER_COLUMNS)}")
    .replace("$guard", _REPEAT_GUARD)
)

# Each run that takes nothing lost its slot to a statement that committed
# meanwhile; so many in a row mean something is wrong, not busy.
MAX_RUNS = 100


def insert_with_slot(
    conn: Connection,
    values: Mapping[str, Any],
    *,
    base_units: int,
    step_units: int,
    slots: int,
    held_until: datetime,
    now: datetime,
) -> Slot:
    """Insert the order `values` (chain and rate set; address and
    usdt_units left to the slot) holding the smallest free slot above
    `base_units` until `held_until`. `conn`: a SQLAlchemy Connection on
    PostgreSQL outside a transaction."""
    return _insert_alone(conn, _params(values, base_units, step_units, slots, held_until, now))


def _insert_alone(conn: Connection, params: Sequence[Any]) -> Slot:
    """insert_with_slot with its statement's parameters (_params)."""
    for _ in range(MAX_RUNS):
        addresses, candidates, address, amount = _fetch_row(conn, params)
        if address is not None:
            return Slot(address, amount)
        if not addresses:
            raise no_wallet(params[0])
        if not candidates:
            raise exhausted(params[0], params[3], addresses)
    raise Unavailable("unique amounts near this price are being taken too fast; retry the request")


def _fetch_row(conn: Connection, params: Sequence[Any]) -> Any:
    """The statement's row, run on the driver's own connection (asyncpg,
    statement prepared once per connection): SQLAlchemy's execution layer
    cost the server about 0.1 ms per create, a quarter of the create's own
    work. Errors come out as SQLAlchemy's, as on its path: IntegrityError
    for a constraint (a repeated order number), and a lost connection is
    invalidated, so the pool does not lend it again."""
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        return await_only(driver.fetchrow(SQL, *params))
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(SQL, params, exc) from exc
    except Exception as exc:
        if not connection_lost(exc, driver):  # refused by the server; the connection is fine
            raise DBAPIError(SQL, params, exc) from exc
        conn.invalidate()
        raise OperationalError(SQL, params, exc, connection_invalidated=True) from exc


def _params(
    values: Mapping[str, Any], base: int, step: int, slots: int, held_until: datetime, now: datetime
) -> Sequence[Any]:
    order = [json.dumps(values[c]) if c in _JSON_COLUMNS else values[c] for c in ORDER_COLUMNS]
    return (values["chain"], base, step, slots, now, *order, held_until)


async def place(
    work: ConnectionRunner,
    values: Mapping[str, Any],
    *,
    base_units: int,
    step_units: int,
    slots: int,
    held_until: datetime,
    now: datetime,
) -> Slot:
    """As `insert_with_slot`, but committed together with the creates that
    arrive meanwhile (engine.pg_batches). An order the batch did not place
    (a repeated order number, a slot lost to another process, no free slot
    at all) or whose batch failed runs again alone, on the general path,
    which places it or raises what a create raises."""
    assert work.batches is not None
    params = _params(values, base_units, step_units, slots, held_until, now)
    try:
        slot = await work.batches.submit(_place_batch, params)
    except Exception:  # logged by the batch; the order runs alone below, which raises what it must
        slot = None
    if slot is not None:
        return slot
    return await work.run(partial(_insert_alone, params=params))


async def _place_batch(driver: asyncpg.Connection, batch: Sequence[Sequence[Any]]) -> list[Slot | None]:
    """Two passes, each one pipelined implicit transaction: the first slot
    (SQL_FIRST_FREE) for all, then the search (SQL_BATCH) for those the
    first pass did not place. What the first pass placed is committed
    either way; an error the server gives in the search leaves its orders
    to run alone."""
    rows = await driver.fetchmany(SQL_FIRST_FREE, batch)
    slots = [Slot(row[0], row[1]) if row[0] is not None else None for row in rows]
    rest = [n for n, slot in enumerate(slots) if slot is None]
    if rest:
        try:
            rows = await driver.fetchmany(SQL_BATCH, [batch[n] for n in rest])
        except asyncpg.PostgresError:
            return slots
        for n, row in zip(rest, rows, strict=True):
            slots[n] = Slot(row[2], row[3]) if row[2] is not None else None
    return slots
