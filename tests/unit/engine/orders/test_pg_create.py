"""The PostgreSQL create statement (engine.orders.pg_create): the same
smallest free slot as engine.amounts.reserve, the order only with its slot,
a slot lost to a concurrent create retried, and creates that arrive
together committed in one batch."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from engine import amounts
from engine.amounts import AmountsExhausted, Slot
from engine.clock import ManualClock
from engine.config import OrderSettings, Settings
from engine.errors import BusinessRule
from engine.models import Merchant, Order, Reservation, Wallet
from engine.orders import pg_create
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from engine.work import ConnectionRunner
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = 13_890_000  # 13.89 USDT, priced in USDT so the base is exact
NUMBERS = count(1)


async def create(
    db: Db, merchant: Merchant, *, base: int = BASE, slots: int = 9999, step: int = 1,
    now: datetime = T0, hold_minutes: int = 60, chain: str = "tron", no: str | None = None,
) -> Slot:  # fmt: skip
    """A USDT-priced create through the runner the API uses; its slot is
    held `hold_minutes` (expiry + late window)."""
    terms = OrderSettings(
        offset_slots=slots, offset_step_units=step, expire_minutes=1, late_window_minutes=hold_minutes - 1
    )
    new = NewOrder(
        face="usdt", merchant_order_no=no or f"n{next(NUMBERS)}", currency=Currency.USDT,
        amount_units=base, chain=chain,
    )  # fmt: skip
    settings = Settings(orders=terms)
    order, _ = await create_order(db.work, merchant, new, settings=settings, clock=ManualClock(now))
    assert order.address is not None and order.usdt_units is not None
    return Slot(order.address, order.usdt_units)


@pytest.fixture
async def merchant(pg_db: Db) -> Merchant:
    assert isinstance(pg_db.work, ConnectionRunner)  # the runner that uses pg_create
    return await make_merchant(pg_db)


async def test_smallest_offset_spread_over_every_address_first(pg_db: Db, merchant: Merchant) -> None:
    wallets = await make_wallets(pg_db, "tron", 3)
    got = [await create(pg_db, merchant) for _ in range(7)]
    assert got == [Slot(w.address, BASE + k) for k in (1, 2, 3) for w in wallets][:7]
    assert (await create(pg_db, merchant, base=BASE + 10_000, step=100)).amount_units == BASE + 10_100


async def test_disabled_addresses_and_other_chains_are_not_used(pg_db: Db, merchant: Merchant) -> None:
    tron = await make_wallets(pg_db, "tron", 2)
    [eth] = await make_wallets(pg_db, "eth", 1)
    async with pg_db.sessions() as session:
        await session.execute(update(Wallet).where(Wallet.id == tron[0].id).values(enabled=False))
        await session.commit()
    got = [await create(pg_db, merchant) for _ in range(3)]
    assert got == [Slot(tron[1].address, BASE + k) for k in (1, 2, 3)]
    assert await create(pg_db, merchant, chain="eth") == Slot(eth.address, BASE + 1)


async def test_no_enabled_address_is_a_clear_error_and_stores_nothing(pg_db: Db, merchant: Merchant) -> None:
    with pytest.raises(BusinessRule, match="usdtpay wallet add --chain tron") as info:
        await create(pg_db, merchant)
    assert info.value.code == "no_wallet"
    assert await stored(pg_db) == (0, 0)


async def test_a_lapsed_slot_is_re_pointed_only_after_its_hold(pg_db: Db, merchant: Merchant) -> None:
    [wallet] = await make_wallets(pg_db, "tron", 1)
    first = await create(pg_db, merchant)  # held until T0 + 1 h
    await create(pg_db, merchant)
    just_before = T0 + timedelta(hours=1) - timedelta(microseconds=1)
    assert (await create(pg_db, merchant, now=just_before)).amount_units == BASE + 3
    again = await create(pg_db, merchant, now=T0 + timedelta(hours=1), no="late")
    assert again == first
    async with pg_db.sessions() as session:
        row = (await session.scalars(select(Reservation).where(Reservation.amount_units == BASE + 1))).one()
        late = (await session.scalars(select(Order).where(Order.merchant_order_no == "late"))).one()
    assert row.order_id == late.id and row.held_until == T0 + timedelta(hours=2)
    assert (late.address, late.usdt_units) == (wallet.address, BASE + 1)
    assert await stored(pg_db) == (4, 3)  # one row per slot, ever


async def test_exhaustion_is_a_clear_error_and_stores_nothing(pg_db: Db, merchant: Merchant) -> None:
    await make_wallets(pg_db, "tron", 2)
    assert len({await create(pg_db, merchant, slots=3) for _ in range(6)}) == 6
    with pytest.raises(AmountsExhausted) as info:
        await create(pg_db, merchant, slots=3)
    assert info.value.message == amounts.exhausted("tron", 3, 2).message
    assert info.value.status == 422
    assert await stored(pg_db) == (6, 6)


async def test_overlapping_ranges_of_two_prices_never_share_an_amount(pg_db: Db, merchant: Merchant) -> None:
    await make_wallets(pg_db, "tron", 1)
    low = [await create(pg_db, merchant, base=1_000_000, slots=20_000, step=1_000) for _ in range(12)]
    high = [await create(pg_db, merchant, base=1_010_000, slots=20_000, step=1_000) for _ in range(3)]
    assert [s.amount_units for s in high] == [1_013_000, 1_014_000, 1_015_000]
    assert len({s.amount_units for s in low + high}) == 15


async def test_a_repeated_order_number_fails_whole(pg_db: Db, merchant: Merchant) -> None:
    """The order insert's unique constraint fails the statement: the slot it
    took is not kept (the service then answers with the stored order)."""
    await make_wallets(pg_db, "tron", 1)
    first = await create(pg_db, merchant, no="A")
    values = {name: None for name in pg_create.ORDER_COLUMNS}
    values.update(
        id=1, merchant_id=merchant.id, merchant_order_no="A", open_create=False, face="usdt", subject="",
        currency="USDT", chain="tron", status="pending", paid_late=False, created_at=T0, expires_at=T0,
        notify_url="", return_url="", param="", extra={}, fingerprint="",
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        await pg_db.work.run(
            lambda conn: pg_create.insert_with_slot(
                conn, values, base_units=BASE, step_units=1, slots=9, held_until=T0, now=T0
            )
        )
    assert await stored(pg_db) == (1, 1)
    assert await create(pg_db, merchant, no="A") == first  # the safe retry


async def test_matches_a_model_of_smallest_free_slot(pg_db: Db, merchant: Merchant) -> None:
    """Random creates at a few prices and times against a plain-Python model."""
    addresses = [w.address for w in await make_wallets(pg_db, "tron", 3)]
    rnd = random.Random(20261201)
    held: dict[tuple[str, int], datetime] = {}
    now = T0
    for _ in range(120):
        now += timedelta(minutes=rnd.choice([0, 0, 1, 7, 30]))
        base = rnd.choice([BASE, BASE + 10_000, 5_000_000])
        hold = rnd.choice([5, 60, 90])
        slots = [(address, base + k) for k in range(1, 6) for address in addresses]
        expected = next((s for s in slots if held.get(s, now) <= now), None)
        if expected is None:
            with pytest.raises(AmountsExhausted):
                await create(pg_db, merchant, base=base, slots=5, now=now, hold_minutes=hold)
            continue
        slot = await create(pg_db, merchant, base=base, slots=5, now=now, hold_minutes=hold)
        assert (slot.address, slot.amount_units) == expected
        held[expected] = now + timedelta(minutes=hold)


async def test_a_slot_taken_meanwhile_is_given_up_and_the_next_taken(pg_db: Db, merchant: Merchant) -> None:
    """Another transaction inserts the slot this create picks but has not
    committed: the create's insert waits for it, takes nothing when it
    commits, and the statement runs again and takes the next slot."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    async with pg_db.engine.connect() as other:
        await other.execute(
            text(
                "INSERT INTO reservations (chain, address, amount_units, order_id, held_until) "
                "VALUES ('tron', :address, :amount, 999, :until)"
            ),
            {"address": wallet.address, "amount": BASE + 1, "until": T0 + timedelta(days=1)},
        )
        creating = asyncio.create_task(create(pg_db, merchant))
        await wait_for_a_lock_wait(pg_db)
        await other.commit()
    assert await creating == Slot(wallet.address, BASE + 2)
    assert await stored(pg_db) == (1, 2)


async def hold_elsewhere(db: Db, address: str, amount: int, until: datetime = T0 + timedelta(days=1)) -> None:
    """A live slot taken by another process: this one's hints do not know it."""
    async with db.engine.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO reservations (chain, address, amount_units, order_id, held_until) "
                "VALUES ('tron', :address, :amount, 999, :until)"
            ),
            {"address": address, "amount": amount, "until": until},
        )
        await conn.commit()


async def wait_for_a_lock_wait(db: Db) -> None:
    """Until a session of this database waits for another's transaction."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(2000):
        async with db.engine.connect() as conn:
            if (await conn.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.005)
    raise AssertionError("the create never waited for the other transaction")


async def stored(db: Db) -> tuple[int, int]:
    async with db.sessions() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        holds = await session.scalar(select(func.count()).select_from(Reservation))
    return int(orders or 0), int(holds or 0)


async def test_a_connection_lost_in_the_pool_costs_no_create(
    pg_db: Db, merchant: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    """The batches keep their connection between batches, unpinged: if it
    died meanwhile, the batch on it fails, the connection is discarded,
    and the create runs again alone on a live one."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    await create(pg_db, merchant)
    assert isinstance(pg_db.work, ConnectionRunner) and pg_db.work.batches is not None
    [batcher] = pg_db.work.batches._batchers.values()
    [kept] = batcher._idle  # the connection the create's batch ran on
    victim = kept.driver.get_server_pid()
    admin = create_async_engine(pg_db.url, poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    await admin.dispose()
    with caplog.at_level(logging.WARNING, logger="usdtpay.work"):
        assert await create(pg_db, merchant, no="lost") == Slot(wallet.address, BASE + 2)
    assert "a batch of" in caplog.text  # the dead connection was the batch's
    assert await create(pg_db, merchant, no="next") == Slot(wallet.address, BASE + 3)
    assert await stored(pg_db) == (3, 3)


async def test_a_batch_whose_session_the_server_ends_gives_its_connection_up(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ending the session mid-batch is a server error (FATAL
    57P01), yet the connection is dead: the pool must not lend it to the
    order that then runs alone, nor to the next create."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    await create(pg_db, merchant)  # the pool now holds one connection
    ended = []

    async def end_own_session(driver: Any, batch: Any) -> Any:
        ended.append(len(batch))
        await driver.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(pg_create, "_place_batch", end_own_session)
    assert await create(pg_db, merchant, no="ended") == Slot(wallet.address, BASE + 2)
    monkeypatch.undo()
    assert ended == [1]
    assert await create(pg_db, merchant, no="next") == Slot(wallet.address, BASE + 3)


async def test_creates_arriving_together_share_a_batch_and_distinct_slots(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each statement of a batch sees the slots the earlier ones took (one
    transaction), so orders at one price get the smallest slots in turn."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    sizes = spy_on_batches(monkeypatch)
    got = await asyncio.gather(*(create(pg_db, merchant) for _ in range(10)))
    assert sorted(s.amount_units for s in got) == [BASE + k for k in range(1, 11)]
    assert {s.address for s in got} == {wallet.address}
    assert max(sizes) > 1 and sum(sizes) == 10
    assert await stored(pg_db) == (10, 10)


async def test_a_repeat_in_a_batch_gets_the_stored_order_and_the_others_are_placed(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A repeated order number takes nothing in its batch (it would fail the
    order insert and roll the others back); alone it fails on the unique
    constraint, and the service answers with the stored order."""
    await make_wallets(pg_db, "tron", 1)
    first = await create(pg_db, merchant, no="A")
    sizes = spy_on_batches(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="usdtpay.work"):
        again, b, c = await asyncio.gather(*(create(pg_db, merchant, no=no) for no in ("A", "B", "C")))
    assert sizes == [3]
    assert "a batch of" not in caplog.text  # B and C were placed by the batch
    assert again == first
    # The repeat tried a slot it did not take (the batch planned the next
    # ones for B and C); the next create takes the smallest free one.
    placed = {b.amount_units, c.amount_units}
    assert len(placed) == 2 and placed <= {BASE + 2, BASE + 3, BASE + 4}
    assert await stored(pg_db) == (3, 3)
    gap = min({BASE + 2, BASE + 3, BASE + 4} - placed)
    assert (await create(pg_db, merchant, no="D")).amount_units == gap


async def test_a_batch_with_a_failing_statement_takes_no_effect_and_each_order_runs_alone(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's second statement fails after the first ran: the batch is
    one transaction, so nothing of it stays; each order then runs alone, and
    only the failing one fails."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    sizes = spy_on_batches(monkeypatch)
    subjects = ["ok", "x" * 300, "ok", "ok"]  # orders.subject holds 256 characters
    got = await asyncio.gather(*(place(pg_db, merchant, f"s{n}", s) for n, s in enumerate(subjects)),
                               return_exceptions=True)  # fmt: skip
    assert sizes == [4]
    assert isinstance(got[1], DBAPIError)
    assert sorted(s.amount_units for s in got if isinstance(s, Slot)) == [BASE + 1, BASE + 2, BASE + 3]
    assert {s.address for s in got if isinstance(s, Slot)} == {wallet.address}
    assert await stored(pg_db) == (3, 3)


async def test_an_error_in_the_search_pass_leaves_the_first_pass_placed(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch runs the one-slot statement for all, then the search for
    the rest. The first pass is committed; an error in the search (here a
    deadlock with another process) rolls back only the search, whose
    orders then run alone."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    # BASE's first slot is held by another process, unknown to this one's hints: y tries it and must search
    await hold_elsewhere(pg_db, wallet.address, BASE + 1)
    await create(pg_db, merchant, base=BASE + 90_000)  # the process learns the addresses
    other = BASE + 50_000
    passes = spy_on_passes(monkeypatch, fail="search")
    got = await asyncio.gather(
        place(pg_db, merchant, "x", "ok", base=other), place(pg_db, merchant, "y", "ok"),
        place(pg_db, merchant, "z", "ok"),
    )  # fmt: skip
    assert passes == [("take", 3), ("search", 1)]
    assert got[0] == Slot(wallet.address, other + 1)
    assert got[2] == Slot(wallet.address, BASE + 2)  # y tried BASE + 1, so z the next
    assert got[1] == Slot(wallet.address, BASE + 3)  # alone, after the failed search
    assert await stored(pg_db) == (4, 5)


async def place(db: Db, merchant: Merchant, no: str, subject: str, *, base: int = BASE) -> Slot:
    values = {name: None for name in pg_create.ORDER_COLUMNS}
    values.update(
        id=random.getrandbits(62), merchant_id=merchant.id, merchant_order_no=no, open_create=False,
        face="usdt", subject=subject, currency="USDT", chain="tron", status="pending", paid_late=False,
        created_at=T0, expires_at=T0, notify_url="", return_url="", param="", extra={}, fingerprint="",
    )  # fmt: skip
    assert isinstance(db.work, ConnectionRunner)
    return await pg_create.place(
        db.work, values, base_units=base, step_units=1, slots=9, held_until=T0 + timedelta(days=1), now=T0
    )


def spy_on_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the batches pg_create runs from now on."""
    sizes: list[int] = []
    real = pg_create._place_batch

    async def counted(driver: Any, batch: Any) -> Any:
        sizes.append(len(batch))
        return await real(driver, batch)

    monkeypatch.setattr(pg_create, "_place_batch", counted)
    return sizes


def spy_on_passes(monkeypatch: pytest.MonkeyPatch, fail: str = "") -> list[tuple[str, int]]:
    """Each pass the batches run from now on: which statement, for how many
    creates. The pass named `fail` fails as a deadlock would."""
    passes: list[tuple[str, int]] = []
    names = {pg_create.SQL_TAKE: "take", pg_create.SQL_BATCH: "search"}
    real = pg_create._place_batch

    class Counting:
        def __init__(self, driver: Any) -> None:
            self._driver = driver

        async def fetchmany(self, sql: str, args: Any) -> Any:
            passes.append((names[sql], len(args)))
            if names[sql] == fail:
                raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected (injected)")
            return await self._driver.fetchmany(sql, args)

    async def counted(driver: Any, batch: Any) -> Any:
        return await real(Counting(driver), batch)

    monkeypatch.setattr(pg_create, "_place_batch", counted)
    return passes
