"""The slot a PostgreSQL create tries first (engine.orders.pg_slots): the
smallest this process does not know to be live, taken without a search;
what it did not know (a slot held elsewhere, a wallet enabled or disabled
meanwhile) costs one search and never a wrong slot."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from engine.amounts import Slot
from engine.models import Merchant, Wallet
from engine.orders import pg_create
from engine.orders.pg_slots import SlotHints
from engine.work import ConnectionRunner
from tests.dbharness import Db
from tests.factories import make_wallets
from tests.unit.engine.orders.test_pg_create import (
    BASE,
    T0,
    create,
    hold_elsewhere,
    merchant,
    spy_on_passes,
    stored,
)

__all__ = ["merchant"]  # the fixture
pytestmark = pytest.mark.postgres
TAKE, SEARCH = ("take", 1), ("search", 1)


async def test_repeats_of_a_price_take_the_smallest_slot_without_a_search(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallets = await make_wallets(pg_db, "tron", 3)
    passes = spy_on_passes(monkeypatch)
    got = [await create(pg_db, merchant) for _ in range(7)]
    assert got == [Slot(w.address, BASE + k) for k in (1, 2, 3) for w in wallets][:7]
    assert passes == [TAKE, SEARCH] + [TAKE] * 6  # the first learns the addresses


async def test_a_slot_held_elsewhere_costs_one_search_until_it_lapses(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    [wallet] = await make_wallets(pg_db, "tron", 1)
    await hold_elsewhere(pg_db, wallet.address, BASE + 1, until=T0 + timedelta(hours=2))
    await create(pg_db, merchant, base=BASE + 90_000)
    passes = spy_on_passes(monkeypatch)
    assert await create(pg_db, merchant) == Slot(wallet.address, BASE + 2)
    assert await create(pg_db, merchant) == Slot(wallet.address, BASE + 3)
    assert passes == [TAKE, SEARCH, TAKE]
    del passes[:]
    # Ours (held 1 h) have lapsed, the other one's not yet: the smallest free is ours again.
    assert await create(pg_db, merchant, now=T0 + timedelta(hours=1)) == Slot(wallet.address, BASE + 2)
    # Then the other one's lapses too: its slot is free again, and no search is needed to know it.
    assert await create(pg_db, merchant, now=T0 + timedelta(hours=2)) == Slot(wallet.address, BASE + 1)
    assert passes == [TAKE, TAKE]
    assert await stored(pg_db) == (5, 4)


async def test_a_wallet_disabled_or_added_meanwhile_costs_one_search_and_no_wrong_slot(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await make_wallets(pg_db, "tron", 2)
    assert [await create(pg_db, merchant) for _ in range(2)] == [
        Slot(first.address, BASE + 1), Slot(second.address, BASE + 1)
    ]  # fmt: skip
    async with pg_db.sessions() as session:
        await session.execute(update(Wallet).where(Wallet.id == first.id).values(enabled=False))
        await session.commit()
    passes = spy_on_passes(monkeypatch)
    # The hints would try the first address's offset 2; its statement refuses, as the addresses changed.
    assert await create(pg_db, merchant) == Slot(second.address, BASE + 2)
    assert await create(pg_db, merchant) == Slot(second.address, BASE + 3)
    assert passes == [TAKE, SEARCH, TAKE]
    del passes[:]
    [third] = await make_wallets(pg_db, "tron", 1, start=3)
    assert await create(pg_db, merchant) == Slot(third.address, BASE + 1)  # smaller than the second's + 4
    assert await create(pg_db, merchant) == Slot(third.address, BASE + 2)
    assert passes == [TAKE, SEARCH, TAKE]


def test_the_hints_name_the_smallest_slot_not_known_live_nor_planned() -> None:
    hints = SlotHints()
    assert hints.target("tron", BASE, 1, 3, T0, set()) is None  # the addresses are not known yet
    hints.saw_addresses("tron", ["A", "B"])
    hints.held(("tron", "A", BASE + 1), T0 + timedelta(minutes=5), T0)
    assert hints.target("tron", BASE, 1, 3, T0, set()) == ("tron", "B", BASE + 1)
    assert hints.target("tron", BASE, 1, 3, T0, {("tron", "B", BASE + 1)}) == ("tron", "A", BASE + 2)
    assert hints.target("tron", BASE, 1, 3, T0 + timedelta(minutes=5), set()) == ("tron", "A", BASE + 1)
    everything = {("tron", a, BASE + k) for a in "AB" for k in (1, 2, 3)}
    assert hints.target("tron", BASE, 1, 3, T0, everything) is None
    hints.saw_addresses("tron", None)  # no enabled address any more
    assert hints.addresses("tron") is None


def test_the_hints_stay_bounded_forgetting_the_lapsed_then_the_oldest() -> None:
    hints = SlotHints(limit=4)
    hints.saw_addresses("tron", ["A"])
    for k in range(1, 4):  # lapse at T0 + 1 min
        hints.held(("tron", "A", BASE + k), T0 + timedelta(minutes=1), T0)
    for k in range(4, 10):  # live for an hour, newer
        hints.held(("tron", "A", BASE + k), T0 + timedelta(hours=1), T0 + timedelta(minutes=2))
    later = T0 + timedelta(minutes=2)
    # The lapsed went first, then the oldest of the live: at most the limit is kept.
    assert set(hints._held) == {("tron", "A", BASE + k) for k in (7, 8, 9)}
    # Forgotten slots look free, so the smallest of them is tried first: always safe (its statement refuses).
    assert hints.target("tron", BASE, 1, 9, later, set()) == ("tron", "A", BASE + 1)


async def test_a_batch_started_while_another_is_in_flight_tries_other_slots(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches run at once (engine.pg_batches); the second must not try
    the slot the first is trying, or each could wait on the other's
    uncommitted row. The first is held before its statements reach the
    database until the second has committed."""
    [wallet] = await make_wallets(pg_db, "tron", 1)
    await create(pg_db, merchant, base=BASE + 90_000)  # the process learns the addresses
    gate, order = asyncio.Event(), []
    real = pg_create._place_batch

    class Held:
        def __init__(self, driver: Any, name: str) -> None:
            self._driver, self._name = driver, name

        async def fetchmany(self, sql: str, args: Any) -> Any:
            if self._name == "first":
                await gate.wait()
            order.append(self._name)
            return await self._driver.fetchmany(sql, args)

    async def held_first(driver: Any, batch: Any) -> Any:
        name = "first" if not order and not gate.is_set() and batch[0].params[7] == "one" else "second"
        try:
            return await real(Held(driver, name), batch)
        finally:
            if name == "second":
                gate.set()

    monkeypatch.setattr(pg_create, "_place_batch", held_first)
    first = asyncio.create_task(create(pg_db, merchant, no="one"))
    await asyncio.sleep(0.05)  # the first batch is planned and waits at the gate
    second = await create(pg_db, merchant, no="two")
    assert await first == Slot(wallet.address, BASE + 1)
    assert second == Slot(wallet.address, BASE + 2)
    assert order == ["second", "first"]
    assert await stored(pg_db) == (3, 3)


def test_a_hot_price_is_not_walked_from_its_first_slot_while_those_stay_live() -> None:
    """The first positions known live are remembered with the earliest of
    their holds: until then the walk starts after them, even if those
    slots were forgotten meanwhile (they are live all the same)."""
    hints = SlotHints()
    hints.saw_addresses("tron", ["A", "B"])
    for k, address in [(k, a) for k in (1, 2, 3) for a in "AB"]:
        until = T0 + timedelta(minutes=5 if (k, address) == (2, "B") else 10)
        hints.held(("tron", address, BASE + k), until, T0)
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "A", BASE + 4)
    hints._held.clear()  # forgotten, but held until T0 + 5 min at least
    assert hints.target("tron", BASE, 1, 9, T0 + timedelta(minutes=1), set()) == ("tron", "A", BASE + 4)
    # Past the earliest hold the walk starts from the first slot again.
    assert hints.target("tron", BASE, 1, 9, T0 + timedelta(minutes=5), set()) == ("tron", "A", BASE + 1)


def test_other_enabled_addresses_make_the_positions_start_over() -> None:
    hints = SlotHints()
    hints.saw_addresses("tron", ["A"])
    hints.held(("tron", "A", BASE + 1), T0 + timedelta(minutes=10), T0)
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "A", BASE + 2)
    hints.saw_addresses("tron", ["B", "A"])  # position 0 is B's offset 1 now
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "B", BASE + 1)


async def test_a_price_whose_slots_were_forgotten_costs_one_search_not_one_per_slot(
    pg_db: Db, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its limit the process forgets slots (SlotHints._shrink); the
    search that follows says that every position before the one it took is
    live, so the next creates at that price take without searching."""
    wallets = await make_wallets(pg_db, "tron", 2)
    assert [await create(pg_db, merchant) for _ in range(5)][-1] == Slot(wallets[0].address, BASE + 3)
    assert isinstance(pg_db.work, ConnectionRunner) and pg_db.work.batches is not None
    hints = pg_create._HINTS[pg_db.work.batches]
    hints._held.clear()
    hints._floors.clear()
    passes = spy_on_passes(monkeypatch)
    got = [await create(pg_db, merchant) for _ in range(3)]
    assert got == [Slot(wallets[1].address, BASE + 3), Slot(wallets[0].address, BASE + 4),
                   Slot(wallets[1].address, BASE + 4)]  # fmt: skip
    assert passes == [TAKE, SEARCH, TAKE, TAKE]


def test_a_search_names_the_positions_before_its_slot_live_until_the_earliest_hold() -> None:
    hints = SlotHints()
    hints.saw_addresses("tron", ["A", "B"])
    # Positions 0..2 were live, the earliest of them until T0 + 10 min; the search took B's offset 2.
    hints.searched(
        BASE, 1, 2, ("tron", "B", BASE + 2), T0 + timedelta(hours=1), T0 + timedelta(minutes=10), T0
    )
    assert hints.target("tron", BASE, 1, 9, T0 + timedelta(minutes=1), set()) == ("tron", "A", BASE + 3)
    # Past the earliest hold only the slot it took is known live.
    assert hints.target("tron", BASE, 1, 9, T0 + timedelta(minutes=10), set()) == ("tron", "A", BASE + 1)
    # A search over other addresses than the known ones teaches the slot, not the positions.
    other = SlotHints()
    other.saw_addresses("tron", ["A", "B"])
    other.searched(BASE, 1, 3, ("tron", "B", BASE + 2), T0 + timedelta(hours=1), None, T0)
    assert other.target("tron", BASE, 1, 9, T0, set()) == ("tron", "A", BASE + 1)


def test_floors_outlive_the_slots_they_cover_but_stay_bounded() -> None:
    hints = SlotHints(limit=4)
    hints.saw_addresses("tron", ["A"])
    hour = T0 + timedelta(hours=1)
    hints.searched(BASE, 1, 1, ("tron", "A", BASE + 3), hour, hour, T0)  # offsets 1 and 2 were live too
    other = BASE + 90_000
    for k in range(1, 5):  # another price's slots: past the limit, the oldest slot goes
        hints.held(("tron", "A", other + k), hour, T0)
    assert ("tron", "A", BASE + 3) not in hints._held
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "A", BASE + 4)
    for n in range(1, 20):  # many prices, each with its floor
        price = BASE + 10_000 * n
        hints.searched(price, 1, 1, ("tron", "A", price + 1), hour, None, T0)
    assert len(hints._held) <= 4 and len(hints._floors) <= 4
    assert hints.target("tron", BASE + 190_000, 1, 9, T0, set()) == ("tron", "A", BASE + 190_002)


def test_each_slot_taken_right_after_the_floor_moves_it() -> None:
    """So the floor covers every slot this process took at the price, and
    forgetting those slots (past the limit) costs no search."""
    hints = SlotHints()
    hints.saw_addresses("tron", ["A", "B"])
    hour = T0 + timedelta(hours=1)
    for _ in range(3):
        target = hints.target("tron", BASE, 1, 9, T0, set())
        assert target is not None
        hints.took(BASE, 1, target, hour, T0)
    hints._held.clear()
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "B", BASE + 2)
    # A slot taken above a gap (a position planned by a batch in flight) leaves the floor where it is.
    hints.took(BASE, 1, ("tron", "A", BASE + 3), hour, T0)
    hints._held.clear()
    assert hints.target("tron", BASE, 1, 9, T0, set()) == ("tron", "B", BASE + 2)
