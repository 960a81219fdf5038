"""Exchange orders end to end at the engine: a type 2 order, a record at the
exchange simulator, the watcher step, the order paid and the merchant's
notification written; what must not settle is recorded with its reason;
restarts and long downtime miss nothing and count nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.exchanges.accounts import KeyNotReadOnly
from engine.models import ExchangeAccount, Transfer, Wallet
from tests.dbharness import Db
from tests.factories import make_merchant
from tests.integration.engine.exchanges.support import (
    Sims,
    add_account,
    amount_text,
    credentials,
    exchange_order,
    make_final,
    notifications_of,
    order_of,
    pay,
    settings_for,
    transfers_of,
)
from watchers.exchanges.loop import ExchangeWatcher

EXCHANGES = ["okx", "binance", "htx"]


def start_time() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


async def steps(watcher: ExchangeWatcher, until_caught_up: bool = True) -> int:
    """Run steps as the loop would, until every account reached now."""
    count = 0
    while True:
        results = await watcher.step_all()
        count += 1
        if not until_caught_up or all(r.window.caught_up for r in results):
            return count


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_a_transfer_at_the_exchange_pays_the_order_and_notifies(
    any_db: Db, sims: Sims, exchange: str
) -> None:
    t0 = start_time()
    settings = settings_for(any_db, sims)
    await make_merchant(any_db)
    await add_account(any_db, settings, exchange, credentials(sims, exchange), t0 - timedelta(minutes=5))
    order = await exchange_order(any_db, exchange, t0)
    record_id = pay(sims, exchange, amount_text(order), t0 + timedelta(minutes=2))
    clock = ManualClock(t0 + timedelta(minutes=3))
    watcher = ExchangeWatcher(settings, any_db.sessions, exchange, clock)
    try:
        await steps(watcher)
        await steps(watcher)  # the overlap re-reads the record: nothing twice
    finally:
        await watcher.aclose()
    paid = await order_of(any_db, order.id)
    assert paid.status == "paid" and paid.tx_hash == record_id and paid.paid_units == order.usdt_units
    assert len(await notifications_of(any_db, order.id)) == 1
    rows = await transfers_of(any_db, exchange)
    assert list(rows) == [record_id] and rows[record_id].status == "matched"


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_what_must_not_settle_is_recorded_with_its_reason(
    any_db: Db, sims: Sims, exchange: str
) -> None:
    t0 = start_time()
    settings = settings_for(any_db, sims)
    await make_merchant(any_db)
    await add_account(any_db, settings, exchange, credentials(sims, exchange), t0 - timedelta(minutes=5))
    currency, amount, waiting, late = [await exchange_order(any_db, exchange, t0) for _ in range(4)]
    at = t0 + timedelta(minutes=1)
    ids = {
        "wrong_token": pay(sims, exchange, amount_text(currency), at, currency="USDC"),
        "overpaid": pay(sims, exchange, amount_text(amount).replace(".", "1.", 1), at),
        "not_final": pay(sims, exchange, amount_text(waiting), at, final=False),
        "too_late": pay(sims, exchange, amount_text(late), t0 + timedelta(minutes=61)),
        "bad_amount": pay(sims, exchange, "5.0000001", at),
    }
    clock = ManualClock(t0 + timedelta(minutes=62))
    watcher = ExchangeWatcher(settings, any_db.sessions, exchange, clock)
    try:
        await steps(watcher)
        rows = await transfers_of(any_db, exchange)
        assert {reason: rows[i].reason for reason, i in ids.items()} == {r: r for r in ids}
        for order in (currency, amount, waiting, late):
            assert (await order_of(any_db, order.id)).status in ("pending", "expired")
        make_final(sims, exchange, ids["not_final"])  # credited for good later
        clock.advance(minutes=1)
        await steps(watcher)
    finally:
        await watcher.aclose()
    assert (await order_of(any_db, waiting.id)).status == "paid"
    assert (await transfers_of(any_db, exchange))[ids["not_final"]].status == "matched"


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_restart_and_long_downtime_miss_nothing_and_count_nothing_twice(
    any_db: Db, sims: Sims, exchange: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    settings = settings_for(any_db, sims)
    await make_merchant(any_db)
    await add_account(any_db, settings, exchange, credentials(sims, exchange), t0 - timedelta(minutes=5))
    orders = [await exchange_order(any_db, exchange, t0 + timedelta(hours=7 * i)) for i in range(9)]
    records = [pay(sims, exchange, amount_text(o), o.created_at + timedelta(minutes=5)) for o in orders]
    clock = ManualClock(t0 + timedelta(minutes=10))
    first = ExchangeWatcher(settings, any_db.sessions, exchange, clock)
    try:
        await steps(first)
    finally:
        await first.aclose()  # the process stops; two and a half days pass
    assert (await order_of(any_db, orders[0].id)).status == "paid"
    assert (await order_of(any_db, orders[1].id)).status == "pending"
    clock.set(datetime.now(UTC))
    again = ExchangeWatcher(settings, any_db.sessions, exchange, clock)
    try:
        taken = await steps(again)
        await steps(again, until_caught_up=False)
    finally:
        await again.aclose()
    assert taken > 5  # the catch-up is paged by the step window
    for order, record_id in zip(orders, records, strict=True):
        paid = await order_of(any_db, order.id)
        assert (paid.status, paid.tx_hash) == ("paid", record_id)
        assert len(await notifications_of(any_db, order.id)) == 1
    async with any_db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.chain == exchange)
        )
    assert count == len(records)


@pytest.mark.parametrize(
    ("exchange", "rights"),
    [
        ("okx", {"perm": "read_only,withdraw"}),
        ("binance", {"enableWithdrawals": True}),
        ("htx", {"permission": "readOnly,withdraw"}),
        ("okx", {"perm": "read_only,trade"}),
    ],
)
async def test_a_key_with_more_than_reading_is_refused(
    any_db: Db, sims: Sims, exchange: str, rights: dict[str, object]
) -> None:
    settings = settings_for(any_db, sims)
    with pytest.raises(KeyNotReadOnly) as caught:
        await add_account(any_db, settings, exchange, credentials(sims, exchange, **rights), start_time())
    assert "read permission only" in caught.value.message
    async with any_db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ExchangeAccount)) == 0
        assert await session.scalar(select(func.count()).select_from(Wallet)) == 0
