"""DESIGN invariant 2 across OS processes: 8 spawned interpreters create
orders at the same price against the same wallets at once. No two live
orders may share (chain, address, amount); when the amounts run out the
create fails with the clear error, never a duplicate. On a shared SQLite
file and on PostgreSQL.

One set of processes runs two phases (spawning 8 interpreters is the slow
part): "busy" with plenty of slots, then "scarce" at another price with
2 addresses x 5 offsets = 10 amounts for 24 creates."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from engine.models import Order, Reservation
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets
from tests.integration.engine.reservation_workers import PROCESSES, Outcome, Phase, run_processes

BUSY = Phase("busy", per_process=12, offset_slots=9999, usdt_units=13_890_000)
SCARCE = Phase("scarce", per_process=3, offset_slots=5, usdt_units=20_000_000)


async def live_orders(db: Db, price_prefix: str) -> list[tuple[str, int]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Order.address, Order.usdt_units).where(
                Order.status == "pending", Order.merchant_order_no.startswith(price_prefix)
            )
        )
        return [(str(address), int(units)) for address, units in rows.tuples()]


async def assert_reservations_match_orders(db: Db) -> None:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Order.chain, Order.address, Order.usdt_units, Reservation.chain, Reservation.address)
            .add_columns(Reservation.amount_units)
            .join(Reservation, Reservation.order_id == Order.id, isouter=True)
        )
        for o_chain, o_addr, o_units, r_chain, r_addr, r_units in rows.tuples():
            assert (o_chain, o_addr, o_units) == (r_chain, r_addr, r_units), "order without its reservation"


def by_phase(outcomes: list[Outcome], phase: str) -> Counter[str]:
    return Counter(o.kind for o in outcomes if o.phase == phase)


async def test_eight_processes_never_share_a_live_amount(any_db: Db) -> None:
    await make_merchant(any_db)
    busy_wallets = await make_wallets(any_db, "tron", 3)
    outcomes = run_processes(any_db.url, [BUSY, SCARCE])
    unexpected = [o for o in outcomes if o.kind in ("error", "crash")]
    assert not unexpected, unexpected[:5]

    # Phase "busy": every create succeeds, no duplicate, packed from +1 upwards.
    busy = await live_orders(any_db, "busy-")
    total = PROCESSES * BUSY.per_process
    assert by_phase(outcomes, "busy") == {"ok": total}
    duplicates = [key for key, n in Counter(busy).items() if n > 1]
    assert not duplicates, f"duplicate live amounts: {duplicates}"
    per_address = total // len(busy_wallets)
    expected = {(w.address, BUSY.usdt_units + k) for k in range(1, per_address + 1) for w in busy_wallets}
    assert set(busy) == expected

    # Phase "scarce": exactly the 15 free amounts (3 addresses x 5) are handed out,
    # every other create gets the clear error.
    scarce = await live_orders(any_db, "scarce-")
    slots = len(busy_wallets) * SCARCE.offset_slots
    assert by_phase(outcomes, "scarce") == {"ok": slots, "exhausted": PROCESSES * SCARCE.per_process - slots}
    assert len(set(scarce)) == len(scarce) == slots
    messages = {o.detail for o in outcomes if o.kind == "exhausted"}
    assert messages == {
        f"all {SCARCE.offset_slots} unique amounts near this price are in use on tron (3 address(es)); "
        "retry later, add receiving addresses, or raise orders.offset_slots"
    }
    await assert_reservations_match_orders(any_db)
