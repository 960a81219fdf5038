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
earlier ones took. A batch first tries, for each create, the one slot
its process expects free (engine.orders.pg_slots); the creates that took
nothing then search. What a batch does not place runs alone in
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
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy import JSON, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.util import await_only

from engine.amounts import Slot, exhausted, no_wallet
from engine.errors import Unavailable
from engine.orders.pg_slots import Key, SlotHints
from engine.orders.queries import ORDERS
from engine.pg_batches import Batches, connection_lost
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
    SELECT w.address, r.amount_units, r.held_until
    FROM wallet w CROSS JOIN LATERAL (
        SELECT amount_units, held_until FROM reservations
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
SELECT c.n, (SELECT count(*) FROM candidate), placed.address, placed.usdt_units,
       (SELECT min(held_until) FROM live)
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

# A batch's first pass: each create tries the one slot that
# engine.orders.pg_slots names (the smallest this process does not know to
# be live), at about a sixth of the database's CPU of the search; the rest
# then search. Parameters: SQL's, then $address, $amount and $addresses,
# the fingerprint of the enabled addresses the slot was picked from
# (SlotHints.fingerprint: the list itself would cost every create its
# size, on the wire and in the driver, with thousands of wallets). The slot
# is taken only if those are still the enabled ones and it lies in the
# order's own range. The answer gives the enabled addresses when they
# differ, and until when the slot is held when it was live. ON CONFLICT's
# row lock on a live slot it does not take is held only until the pass
# commits.
_TAKE = """
WITH wallet AS (
    SELECT CAST(array_agg(address ORDER BY id) AS text[]) AS addresses
    FROM wallets WHERE chain = CAST($1 AS text) AND enabled
),
known AS (
    SELECT w.addresses,
           md5(array_to_string(w.addresses, ',')) IS NOT DISTINCT FROM CAST($addresses AS text) AS same
    FROM wallet w
),
slot AS (
    INSERT INTO reservations AS r (chain, address, amount_units, order_id, held_until)
    SELECT $1, CAST($address AS text), CAST($amount AS bigint), CAST($6 AS bigint),
           CAST($held AS timestamptz)
    FROM known k
    WHERE k.same AND CAST($address AS text) IS NOT NULL
      AND CAST($amount AS bigint) BETWEEN CAST($2 AS bigint) + CAST($3 AS bigint)
                                      AND CAST($2 AS bigint) + CAST($4 AS bigint) * CAST($3 AS bigint)$guard
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
SELECT placed.address, placed.usdt_units, k.same, CASE WHEN k.same THEN NULL ELSE k.addresses END,
       (SELECT held_until FROM reservations
        WHERE chain = $1 AND address = CAST($address AS text) AND amount_units = CAST($amount AS bigint))
FROM known k LEFT JOIN placed ON true
"""
SQL_BATCH = SQL_BATCH.replace("$repeat_guard", _REPEAT_GUARD)
_HELD_PARAM = _FIRST_ORDER_PARAM + len(ORDER_COLUMNS)
SQL_TAKE = (
    _TAKE.replace("$columns", ", ".join(ORDER_COLUMNS))
    .replace("$values", _order_placeholders())
    .replace("$held", f"${_HELD_PARAM}")
    .replace("$addresses", f"${_HELD_PARAM + 3}")  # before its prefix, $address
    .replace("$address", f"${_HELD_PARAM + 1}")
    .replace("$amount", f"${_HELD_PARAM + 2}")
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
        addresses, candidates, address, amount, _ = _fetch_row(conn, params)
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


class Pending(NamedTuple):
    """A create waiting for its batch: its statement's parameters
    (_params), and what its process knows of the slots."""

    params: Sequence[Any]
    hints: SlotHints


# One per runner (per database): the batch's statements teach it the slots.
_HINTS: WeakKeyDictionary[Batches, SlotHints] = WeakKeyDictionary()


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
    hints = _HINTS.get(work.batches)
    if hints is None:
        hints = _HINTS[work.batches] = SlotHints()
    params = _params(values, base_units, step_units, slots, held_until, now)
    try:
        slot = await work.batches.submit(_place_batch, Pending(params, hints))
    except Exception:  # logged by the batch; the order runs alone below, which raises what it must
        slot = None
    if slot is None:
        slot = await work.run(partial(_insert_alone, params=params))
        hints.held((params[0], slot.address, slot.amount_units), held_until, now)
    return slot


async def _place_batch(driver: asyncpg.Connection, batch: Sequence[Pending]) -> list[Slot | None]:
    """Two passes, each one pipelined implicit transaction: each create
    tries the slot its hints name (SQL_TAKE), then those that took nothing
    search (SQL_BATCH). What the first pass placed is committed either way;
    an error the server gives in the search leaves its orders to run alone.
    The hints learn only what was committed."""
    targets = _targets(batch)
    takes = [_take_params(item, target) for item, target in zip(batch, targets, strict=True)]
    try:
        rows = await driver.fetchmany(SQL_TAKE, takes)
    finally:
        for (_, hints), target in zip(batch, targets, strict=True):
            if target is not None:
                hints.trying.discard(target)
    slots: list[Slot | None] = []
    for (params, hints), target, row in zip(batch, targets, rows, strict=True):
        address, amount, same, addresses, held_until = row
        chain, now = params[0], params[4]
        if not same:
            hints.saw_addresses(chain, addresses)
        if address is not None:
            hints.took(params[1], params[2], (chain, address, amount), params[-1], now)
        elif target is not None and held_until is not None:  # the slot it tried is live until then
            hints.held(target, held_until, now)
        slots.append(Slot(address, amount) if address is not None else None)
    rest = [n for n, slot in enumerate(slots) if slot is None]
    if rest:
        try:
            rows = await driver.fetchmany(SQL_BATCH, [batch[n].params for n in rest])
        except asyncpg.PostgresError:
            return slots
        for n, row in zip(rest, rows, strict=True):
            addresses, _, address, amount, live_until = row
            if address is not None:
                slots[n] = Slot(address, amount)
                params, hints = batch[n]
                chain, base, step, _, now = params[:5]
                hints.searched(base, step, addresses, (chain, address, amount), params[-1], live_until, now)
    return slots


def _targets(batch: Sequence[Pending]) -> list[Key | None]:
    """The slot each create tries: its hints' smallest, not one that an
    earlier create of this batch or the other batch in flight tries (two
    batches trying one slot would wait on each other)."""
    targets: list[Key | None] = []
    for params, hints in batch:
        chain, base, step, slots, now = params[:5]
        target = hints.target(chain, base, step, slots, now, hints.trying)
        if target is not None:
            hints.trying.add(target)
        targets.append(target)
    return targets


def _take_params(item: Pending, target: Key | None) -> Sequence[Any]:
    """SQL_TAKE's parameters; with no target it takes nothing, and still
    answers the enabled addresses if they are not the ones known."""
    known = item.hints.fingerprint(item.params[0])
    if target is None:
        return (*item.params, None, None, known)
    return (*item.params, target[1], target[2], known)
