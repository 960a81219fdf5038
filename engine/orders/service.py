"""Creating orders: pricing, unique-amount reservation, safe retries.

One public async function per operation: `create_order` (every face) and
`assign_chain` (the cashier, when the payer picks USDT later). Each takes
what it needs (the runner or the caller's session, the settings, the clock)
and reads the rate itself. The work is written once as private sync
functions of a `Connection`, with Core statements: engine.work runs a create
whole, and on SQLite several waiting creates share one transaction (group
commit), each caller answered once its own row is durable. On PostgreSQL an
order with its chain is one statement (engine.orders.pg_create), and the
ones waiting share a transaction the same way (engine.pg_batches).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from engine import amounts, money
from engine.clock import Clock
from engine.config import OrderSettings, Settings
from engine.errors import BusinessRule, Conflict, NotFound, UsdtPayError
from engine.ids import new_platform_id
from engine.models import Merchant, Order
from engine.orders import pg_create, queries
from engine.orders.schemas import Currency, NewOrder, OrderStatus
from engine.rates.service import RateNotInMemory, quote_in
from engine.work import ConnectionRunner, ReadCache, WorkRunner


async def create_order(
    work: WorkRunner,
    merchant: Merchant,
    new: NewOrder,
    *,
    settings: Settings,
    clock: Clock,
    orders: OrderSettings | None = None,
) -> tuple[Order, bool]:
    """Create and commit an order; returns (order, created). `orders`
    overrides settings.orders for faces with their own terms.

    A repeat of a merchant order number with the same parameters returns
    the stored order (created False), even when pricing it again would fail
    now (stale rate, amounts exhausted); with other parameters it is a
    Conflict. Optimistic: a new order number (the common case) costs no
    read first; a repeat fails on the unique constraint, then the stored
    order answers.
    """
    terms = orders or settings.orders
    now = clock.now()
    for attempt in range(2):
        try:
            if new.chain is not None and isinstance(work, ConnectionRunner) and work.batches is not None:
                return await _create_on_chain_pg(work, merchant.id, new, settings, terms, now, attempt > 0)
            body = partial(_create, merchant.id, new, settings, terms, now, work.cache, attempt > 0)
            return await work.run(body)
        except (IntegrityError, UsdtPayError) as exc:
            stored = partial(queries.find_stored, merchant_id=merchant.id, order_no=new.merchant_order_no,
                             open_create=new.open_create)  # fmt: skip
            existing = await work.run(stored)
            if existing is not None:
                return _existing_or_conflict(existing, new), False
            if not isinstance(exc, IntegrityError):
                raise
    # Two failures without a stored order: a platform id collision twice.
    raise Conflict("the order could not be stored; retry the request")


async def find_order(work: WorkRunner, merchant: Merchant, order_no: str) -> queries.OrderState:
    """The state of the order `merchant` created as `order_no` (its own
    number space), or NotFound. Read without SQLite's write lock
    (WorkRunner.read), so queries never wait behind creates."""
    stored = partial(queries.find_state, merchant_id=merchant.id, order_no=order_no)
    order = await work.read(stored)
    if order is None:
        raise NotFound(f"merchant {merchant.pid} has no order {order_no!r}")
    return order


async def assign_chain(
    session: AsyncSession, order: Order, chain: str, *, settings: Settings, clock: Clock
) -> None:
    """Price `order` in USDT on `chain` and reserve its unique amount, in
    the caller's unit of work (the caller commits)."""
    now = clock.now()

    def assign(conn: Connection) -> dict[str, Any]:
        return _priced(conn, order.currency, _amount(order), chain, order.id, order.expires_at, settings,
                       settings.orders, now, None)  # fmt: skip

    values = await session.run_sync(lambda s: assign(s.connection()))
    for name, value in values.items():
        setattr(order, name, value)


def _amount(order: Order) -> int:
    amount = order.fiat_fen if order.currency == Currency.CNY else order.usdt_price_units
    assert amount is not None
    return amount


def _existing_or_conflict(existing: Order, new: NewOrder) -> Order:
    if existing.fingerprint == new.fingerprint():
        return existing
    raise Conflict(
        f"order_no {new.merchant_order_no!r} already exists with different parameters; use a new order number"
    )


def _create(
    merchant_id: int,
    new: NewOrder,
    settings: Settings,
    terms: OrderSettings,
    now: datetime,
    cache: ReadCache,
    check_existing: bool,
    conn: Connection,
) -> tuple[Order, bool]:
    """The create as one unit of work: the order row and, for an on-chain
    order, its priced unique amount. With check_existing=False a repeat is
    not looked for first: the insert fails on the unique constraint."""
    if check_existing:
        existing = queries.find_stored(conn, merchant_id, new.merchant_order_no, new.open_create)
        if existing is not None:
            return _existing_or_conflict(existing, new), False
    values = _order_values(merchant_id, new, terms, now)
    if new.chain is not None:
        values.update(
            _priced(conn, new.currency, new.amount_units, new.chain, values["id"], values["expires_at"],
                    settings, terms, now, cache)
        )  # fmt: skip
    queries.insert_order(conn, values)
    return queries.order_from_row(values), True


def _order_values(merchant_id: int, new: NewOrder, terms: OrderSettings, now: datetime) -> dict[str, Any]:
    cny = new.currency == Currency.CNY
    return {
        "id": new_platform_id(),
        "merchant_id": merchant_id,
        "merchant_order_no": new.merchant_order_no,
        "open_create": new.open_create,
        "face": new.face,
        "subject": new.subject,
        "currency": new.currency.value,
        "fiat_fen": new.amount_units if cny else None,
        "usdt_price_units": None if cny else new.amount_units,
        "usdt_units": None,
        "rate": None,
        "chain": None,
        "channel": new.channel,
        "address": None,
        "status": OrderStatus.PENDING.value,
        "paid_late": False,
        "created_at": now,
        "expires_at": now + timedelta(minutes=terms.expire_minutes),
        "paid_at": None,
        "notify_url": new.notify_url,
        "return_url": new.return_url,
        "param": new.param,
        "transfer_id": None,
        "tx_hash": None,
        "payer_address": None,
        "block_number": None,
        "paid_units": None,
        "channel_trade_no": None,
        "extra": dict(new.extra),
        "fingerprint": new.fingerprint(),
        "picked_by": None,  # every column: engine.prepared then picks the values at once
    }


def _priced(
    conn: Connection,
    currency: str,
    amount_units: int,
    chain: str,
    order_id: int,
    expires_at: datetime,
    settings: Settings,
    terms: OrderSettings,
    now: datetime,
    cache: ReadCache | None,
) -> dict[str, Any]:
    """The USDT price on `chain` with its unique amount reserved: the
    order's chain, address, usdt_units and rate columns."""
    base, rate = _usdt_base(conn, currency, amount_units, settings, terms, now, cache)
    slot = amounts.reserve(
        conn,
        chain=chain,
        base_units=base,
        step_units=terms.offset_step_units,
        slots=terms.offset_slots,
        order_id=order_id,
        held_until=expires_at + timedelta(minutes=terms.late_window_minutes),
        now=now,
    )
    return {
        "chain": chain,
        "address": slot.address,
        "usdt_units": slot.amount_units,
        "rate": str(rate) if rate is not None else None,
    }


def _usdt_base(
    conn: Connection | None,
    currency: str,
    amount_units: int,
    settings: Settings,
    terms: OrderSettings,
    now: datetime,
    cache: ReadCache | None,
) -> tuple[int, Decimal | None]:
    """The USDT price before its unique offset, and the rate it was priced at (None: priced in USDT)."""
    rate: Decimal | None = None
    if currency == Currency.USDT:
        base = money.usdt_base(amount_units, terms.base_decimals)
    else:
        rate = quote_in(conn, settings, now, cache).rate
        base = money.fen_to_usdt_base(amount_units, rate, terms.base_decimals)
    if base + terms.offset_slots * terms.offset_step_units > terms.max_usdt_units:
        raise BusinessRule(
            f"amount is too large: the order would be {money.format_usdt(base)} USDT, more than the "
            f"maximum of {money.format_usdt(terms.max_usdt_units)} USDT per order",
            code="amount_too_large",
        )
    return base, rate


async def _create_on_chain_pg(
    work: ConnectionRunner,
    merchant_id: int,
    new: NewOrder,
    settings: Settings,
    terms: OrderSettings,
    now: datetime,
    check_existing: bool,
) -> tuple[Order, bool]:
    """PostgreSQL, an order with its chain: priced from memory when the
    rate is there, then inserted with its unique amount in one statement
    that commits with the creates arriving meanwhile (engine.orders.pg_create)."""
    assert new.chain is not None
    if check_existing:
        stored = partial(queries.find_stored, merchant_id=merchant_id, order_no=new.merchant_order_no,
                         open_create=new.open_create)  # fmt: skip
        existing = await work.run(stored)
        if existing is not None:
            return _existing_or_conflict(existing, new), False
    values = _order_values(merchant_id, new, terms, now)

    def price(conn: Connection | None) -> tuple[int, Decimal | None]:
        return _usdt_base(conn, new.currency, new.amount_units, settings, terms, now, work.cache)

    try:
        base, rate = price(None)
    except RateNotInMemory:
        base, rate = await work.read(price)
    values.update(chain=new.chain, rate=str(rate) if rate is not None else None)
    slot = await pg_create.place(
        work,
        values,
        base_units=base,
        step_units=terms.offset_step_units,
        slots=terms.offset_slots,
        held_until=values["expires_at"] + timedelta(minutes=terms.late_window_minutes),
        now=now,
    )
    values.update(address=slot.address, usdt_units=slot.amount_units)
    return queries.order_from_row(values), True
