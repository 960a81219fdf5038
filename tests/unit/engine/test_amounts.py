"""Unique-amount reservations (DESIGN invariant 2) on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from engine import amounts
from engine.amounts import AmountsExhausted, Slot
from engine.clock import ManualClock
from engine.config import OrderSettings, Settings
from engine.errors import BusinessRule
from engine.models import Reservation, Wallet
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = 13_890_000  # 13.89 USDT


async def reserve(
    db: Db,
    *,
    base: int = BASE,
    slots: int = 9999,
    step: int = 1,
    now: datetime = T0,
    hold: timedelta = timedelta(hours=1),
    chain: str = "tron",
    order_id: int | None = None,
) -> Slot:
    async with db.sessions() as session:
        slot = await session.run_sync(
            amounts.reserve,
            chain=chain,
            base_units=base,
            step_units=step,
            slots=slots,
            order_id=order_id if order_id is not None else random.randrange(1, 2**53),
            held_until=now + hold,
            now=now,
        )
        await session.commit()
        return slot


async def test_smallest_free_offset_first(any_db: Db) -> None:
    [wallet] = await make_wallets(any_db, "tron", 1)
    got = [await reserve(any_db) for _ in range(4)]
    assert got == [Slot(wallet.address, BASE + k) for k in (1, 2, 3, 4)]


async def test_step_is_configurable(any_db: Db) -> None:
    await make_wallets(any_db, "tron", 1)
    got = [(await reserve(any_db, step=100)).amount_units for _ in range(3)]
    assert got == [BASE + 100, BASE + 200, BASE + 300]


async def test_one_offset_is_spread_over_every_address_before_the_next(any_db: Db) -> None:
    wallets = await make_wallets(any_db, "tron", 3)
    got = [await reserve(any_db) for _ in range(7)]
    expected = [Slot(w.address, BASE + k) for k in (1, 2, 3) for w in wallets][:7]
    assert got == expected


async def test_disabled_addresses_and_other_chains_are_not_used(any_db: Db) -> None:
    tron = await make_wallets(any_db, "tron", 2)
    await make_wallets(any_db, "eth", 1)
    async with any_db.sessions() as session:
        await session.execute(update(Wallet).where(Wallet.id == tron[0].id).values(enabled=False))
        await session.commit()
    got = {await reserve(any_db) for _ in range(3)}
    assert {s.address for s in got} == {tron[1].address}
    # The same amounts are free on the other chain: each chain has its own slots.
    eth_slot = await reserve(any_db, chain="eth")
    assert eth_slot.amount_units == BASE + 1


async def test_no_enabled_address_is_a_clear_error(any_db: Db) -> None:
    with pytest.raises(BusinessRule, match="usdtpay wallet add --chain tron") as info:
        await reserve(any_db)
    assert info.value.code == "no_wallet"


async def test_a_slot_comes_back_only_after_its_hold(any_db: Db) -> None:
    [wallet] = await make_wallets(any_db, "tron", 1)
    first = await reserve(any_db, order_id=1)  # held until T0 + 1 h
    await reserve(any_db, order_id=2)
    just_before = T0 + timedelta(hours=1) - timedelta(microseconds=1)
    assert (await reserve(any_db, now=just_before, order_id=3)).amount_units == BASE + 3
    # At held_until the holds of orders 1 and 2 have lapsed: the smallest comes back.
    again = await reserve(any_db, now=T0 + timedelta(hours=1), order_id=4)
    assert again == first
    async with any_db.sessions() as session:
        row = (
            await session.scalars(
                select(Reservation).where(
                    Reservation.address == wallet.address, Reservation.amount_units == BASE + 1
                )
            )
        ).one()
    assert row.order_id == 4 and row.held_until == T0 + timedelta(hours=2)


async def test_a_lapsed_first_address_comes_before_a_free_later_one(any_db: Db) -> None:
    wallets = await make_wallets(any_db, "tron", 3)
    assert await reserve(any_db, order_id=1, hold=timedelta(minutes=1)) == Slot(wallets[0].address, BASE + 1)
    assert await reserve(any_db, order_id=2) == Slot(wallets[1].address, BASE + 1)
    later = T0 + timedelta(minutes=5)  # order 1's hold has lapsed, order 2's has not
    assert await reserve(any_db, now=later, order_id=3) == Slot(wallets[0].address, BASE + 1)
    assert await reserve(any_db, now=later, order_id=4) == Slot(wallets[2].address, BASE + 1)
    assert await reserve(any_db, now=later, order_id=5) == Slot(wallets[0].address, BASE + 2)


async def test_exhaustion_is_a_clear_error(any_db: Db) -> None:
    await make_wallets(any_db, "tron", 2)
    taken = {await reserve(any_db, slots=3) for _ in range(6)}
    assert len(taken) == 6
    with pytest.raises(AmountsExhausted) as info:
        await reserve(any_db, slots=3)
    message = info.value.message
    assert "all 3 unique amounts" in message and "2 address(es)" in message
    assert "add receiving addresses" in message and "orders.offset_slots" in message
    assert info.value.status == 422 and info.value.code == "amounts_exhausted"
    # A different price has its own free amounts.
    assert (await reserve(any_db, base=BASE + 10_000, slots=3)).amount_units == BASE + 10_001


async def test_overlapping_ranges_of_two_prices_never_share_an_amount(any_db: Db) -> None:
    # With many slots, 1.00's range runs into 1.01's; the constraint keeps them apart.
    await make_wallets(any_db, "tron", 1)
    low = [await reserve(any_db, base=1_000_000, slots=20_000, step=1_000) for _ in range(12)]
    high = [await reserve(any_db, base=1_010_000, slots=20_000, step=1_000) for _ in range(3)]
    amounts_taken = [s.amount_units for s in low + high]
    assert len(set(amounts_taken)) == len(amounts_taken)
    # 1.011 and 1.012 belong to the lower price already.
    assert [s.amount_units for s in high] == [1_013_000, 1_014_000, 1_015_000]


async def test_late_window_holds_the_amount_after_expiry(any_db: Db) -> None:
    merchant = await make_merchant(any_db)
    await make_wallets(any_db, "tron", 1)
    terms = OrderSettings(expire_minutes=30, late_window_minutes=30)
    settings = Settings(rate_fixed=Decimal("7.20"), orders=terms)

    async def create(no: str, now: datetime) -> int:
        new = NewOrder(
            face="usdt", merchant_order_no=no, currency=Currency.CNY, amount_units=10000, chain="tron"
        )
        order, _ = await create_order(any_db.work, merchant, new, settings=settings, clock=ManualClock(now))
        assert order.usdt_units is not None
        return order.usdt_units

    assert await create("a", T0) == 13_890_001
    # Expired at T0+30 min, but a late payment of 13.890001 must still find order "a".
    assert await create("b", T0 + timedelta(minutes=59)) == 13_890_002
    async with any_db.sessions() as session:
        holds = sorted((await session.scalars(select(Reservation.held_until))).all())
    assert holds[0] == T0 + timedelta(minutes=60)
    # After expiry + late window, the amount is free again.
    assert await create("c", T0 + timedelta(minutes=60)) == 13_890_001


async def test_matches_a_model_of_smallest_free_slot(db: Db) -> None:
    """Random reserves at a few prices and times against a plain-Python model."""
    wallets = await make_wallets(db, "tron", 3)
    addresses = [w.address for w in wallets]
    rnd = random.Random(20260301)
    held: dict[tuple[str, int], datetime] = {}
    now = T0
    for _ in range(150):
        now += timedelta(minutes=rnd.choice([0, 0, 1, 7, 30]))
        base = rnd.choice([BASE, BASE + 10_000, 5_000_000])
        hold = timedelta(minutes=rnd.choice([5, 60, 90]))
        expected = next(
            (
                (address, base + k)
                for k in range(1, 6)
                for address in addresses
                if held.get((address, base + k), now) <= now
            ),
            None,
        )
        if expected is None:
            with pytest.raises(AmountsExhausted):
                await reserve(db, base=base, slots=5, now=now, hold=hold)
            continue
        slot = await reserve(db, base=base, slots=5, now=now, hold=hold)
        assert (slot.address, slot.amount_units) == expected
        held[expected] = now + hold
