"""Creating orders: pricing, unique-amount reservation, safe retries.

The work is written once, for a sync `Session`: engine.work runs it as one
call (one hop to SQLite's thread, or run_sync on PostgreSQL); the async
functions here are thin doors for callers that already hold an AsyncSession.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from engine import amounts, money
from engine.config import OrderSettings
from engine.errors import BusinessRule, Conflict, UsdtPayError
from engine.ids import new_platform_id
from engine.models import Merchant, Order
from engine.orders import queries
from engine.orders.schemas import Currency, NewOrder, OrderStatus
from engine.work import WorkRunner

# CNY per USDT, read inside the unit of work (engine.rates.service.quote_in).
RateLookup = Callable[[Session], Decimal]


def _price_usdt(
    session: Session, new: NewOrder, settings: OrderSettings, rate_lookup: RateLookup
) -> tuple[int, Decimal | None]:
    """The base USDT price (before the unique fraction) and the rate used."""
    if new.currency == Currency.USDT:
        return money.usdt_base(new.amount_units, settings.base_decimals), None
    rate = rate_lookup(session)
    return money.fen_to_usdt_base(new.amount_units, rate, settings.base_decimals), rate


def _existing_or_conflict(existing: Order, new: NewOrder) -> Order:
    if existing.fingerprint == new.fingerprint():
        return existing
    raise Conflict(
        f"order_no {new.merchant_order_no!r} already exists with different parameters; use a new order number"
    )


def create_order_in(
    session: Session,
    merchant_id: int,
    new: NewOrder,
    *,
    settings: OrderSettings,
    rate_lookup: RateLookup,
    now: datetime,
    check_existing: bool = True,
) -> tuple[Order, bool]:
    """Create (and flush) an order; returns (order, created).

    A repeat of an existing merchant order number with the same parameters
    returns the original order; with different parameters it is a Conflict.
    With check_existing=False the repeat is not looked for first: the
    flush then fails on the unique (merchant, order no) constraint.
    """
    if check_existing:
        existing = queries.find_by_merchant_no(
            session, merchant_id, new.merchant_order_no, open_create=new.open_create
        )
        if existing is not None:
            return _existing_or_conflict(existing, new), False

    order_id = new_platform_id()
    expires_at = now + timedelta(minutes=settings.expire_minutes)
    order = Order(
        id=order_id,
        merchant_id=merchant_id,
        merchant_order_no=new.merchant_order_no,
        open_create=new.open_create,
        face=new.face,
        subject=new.subject,
        currency=new.currency.value,
        fiat_fen=new.amount_units if new.currency == Currency.CNY else None,
        usdt_price_units=new.amount_units if new.currency == Currency.USDT else None,
        chain=new.chain,
        channel=new.channel,
        status=OrderStatus.PENDING.value,
        created_at=now,
        expires_at=expires_at,
        notify_url=new.notify_url,
        return_url=new.return_url,
        param=new.param,
        extra=dict(new.extra),
        fingerprint=new.fingerprint(),
    )
    if new.chain is not None:
        assign_chain_in(session, order, new.chain, settings=settings, rate_lookup=rate_lookup, now=now)
    session.add(order)
    session.flush()
    return order, True


async def create_order(
    session: AsyncSession,
    merchant: Merchant,
    new: NewOrder,
    *,
    settings: OrderSettings,
    rate_lookup: RateLookup,
    now: datetime,
    check_existing: bool = True,
) -> tuple[Order, bool]:
    """create_order_in() on an AsyncSession (flushes; the caller commits)."""
    return await session.run_sync(
        create_order_in,
        merchant.id,
        new,
        settings=settings,
        rate_lookup=rate_lookup,
        now=now,
        check_existing=check_existing,
    )


def assign_chain_in(
    session: Session,
    order: Order,
    chain: str,
    *,
    settings: OrderSettings,
    rate_lookup: RateLookup,
    now: datetime,
) -> None:
    """Price the order in USDT on `chain` and reserve its unique amount.

    Used at creation, and by the cashier when a payer picks a chain later.
    """
    amount = order.fiat_fen if order.currency == Currency.CNY else order.usdt_price_units
    assert amount is not None
    new = NewOrder(
        face=order.face,
        merchant_order_no="",
        currency=Currency(order.currency),
        amount_units=amount,
    )
    base, rate = _price_usdt(session, new, settings, rate_lookup)
    if base + settings.offset_slots * settings.offset_step_units > settings.max_usdt_units:
        raise BusinessRule(
            f"amount is too large: the order would be {money.format_usdt(base)} USDT, more than the "
            f"maximum of {money.format_usdt(settings.max_usdt_units)} USDT per order",
            code="amount_too_large",
        )
    held_until = order.expires_at + timedelta(minutes=settings.late_window_minutes)
    slot = amounts.reserve(
        session,
        chain=chain,
        base_units=base,
        step_units=settings.offset_step_units,
        slots=settings.offset_slots,
        order_id=order.id,
        held_until=held_until,
        now=now,
    )
    order.chain = chain
    order.address = slot.address
    order.usdt_units = slot.amount_units
    order.rate = str(rate) if rate is not None else None


async def assign_chain(
    session: AsyncSession,
    order: Order,
    chain: str,
    *,
    settings: OrderSettings,
    rate_lookup: RateLookup,
    now: datetime,
) -> None:
    """assign_chain_in() on an AsyncSession (the caller commits)."""
    await session.run_sync(assign_chain_in, order, chain, settings=settings, rate_lookup=rate_lookup, now=now)


async def create_order_committed(
    work: WorkRunner,
    merchant: Merchant,
    new: NewOrder,
    *,
    settings: OrderSettings,
    rate_lookup: RateLookup,
    now: datetime,
) -> tuple[Order, bool]:
    """Own the unit of work: create and commit.

    Optimistic: a new order number (the common case) costs no extra read.
    A repeat, or two concurrent creates racing on one order number, fail
    on the unique constraint; then the stored order answers like a retry.
    """

    def create(session: Session, check_existing: bool) -> tuple[Order, bool]:
        return create_order_in(
            session,
            merchant.id,
            new,
            settings=settings,
            rate_lookup=rate_lookup,
            now=now,
            check_existing=check_existing,
        )

    def stored(session: Session) -> Order | None:
        return queries.find_by_merchant_no(
            session, merchant.id, new.merchant_order_no, open_create=new.open_create
        )

    for attempt in range(2):
        try:
            return await work.run(partial(create, check_existing=attempt > 0))
        except (IntegrityError, UsdtPayError) as exc:
            # A repeat must return the stored order even when pricing it
            # again fails now (stale rate, amounts exhausted).
            existing = await work.run(stored)
            if existing is not None:
                return _existing_or_conflict(existing, new), False
            if not isinstance(exc, IntegrityError):
                raise
    # Two failures without a stored order: a platform id collision twice.
    raise Conflict("the order could not be stored; retry the request")
