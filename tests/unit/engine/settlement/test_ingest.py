"""Settlement of ingested transfers (DESIGN invariant 3) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.models import Notification, Order, Transfer
from engine.settlement import ingest
from tests.dbharness import Db
from tests.factories import PAYER, T0, eth_address, make_merchant, make_order, make_wallets, paying
from tests.unit.engine.settlement.helpers import RULES

NOW = T0 + timedelta(hours=2)


@pytest.fixture
async def shop(any_db: Db) -> Db:
    await make_merchant(any_db)
    await make_wallets(any_db, "eth", 2)
    return any_db


async def run_ingest(db: Db, transfers: list, *, now=NOW):  # type: ignore[no-untyped-def]
    async with db.sessions() as session:
        result = await ingest(session, "eth", transfers, now, RULES)
        await session.commit()
        return result


async def load(db: Db, order_id: int) -> Order:
    async with db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def transfer_rows(db: Db) -> list[Transfer]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Transfer).order_by(Transfer.id)))


async def count(db: Db, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_exact_transfer_pays_the_order_and_queues_one_notification(shop: Db) -> None:
    order = await make_order(shop)
    t = paying(order, block_number=4242)
    result = await run_ingest(shop, [t])
    assert result.matched_orders == [order.id] and not result.unmatched
    paid = await load(shop, order.id)
    assert paid.status == "paid" and paid.paid_late is False
    assert (paid.tx_hash, paid.payer_address, paid.block_number) == (t.tx_hash, PAYER, 4242)
    assert paid.paid_units == order.usdt_units and paid.paid_at == t.block_time
    [row] = await transfer_rows(shop)
    assert (row.status, row.order_id, row.reason, paid.transfer_id) == ("matched", order.id, None, row.id)
    assert await count(shop, Notification) == 1


async def test_replaying_the_same_range_changes_nothing(shop: Db) -> None:
    order = await make_order(shop)
    other = await make_order(shop)
    batch = [paying(order), paying(other, amount_units=1)]
    first = await run_ingest(shop, batch)
    again = await run_ingest(shop, batch)
    assert len(first.matched_orders) == 1 and sum(first.unmatched.values()) == 1
    assert again.duplicates == 2 and again.recorded == 0
    assert len(await transfer_rows(shop)) == 2
    assert await count(shop, Notification) == 1


async def test_duplicates_inside_one_batch_are_recorded_once(shop: Db) -> None:
    order = await make_order(shop)
    t = paying(order)
    result = await run_ingest(shop, [t, t])
    assert result.matched_orders == [order.id] and result.duplicates == 1
    assert len(await transfer_rows(shop)) == 1


async def test_payment_after_expiry_within_late_window_is_paid_late(shop: Db) -> None:
    order = await make_order(shop)
    t = paying(order, at=order.expires_at + timedelta(minutes=29))
    await run_ingest(shop, [t])
    paid = await load(shop, order.id)
    assert paid.status == "paid" and paid.paid_late is True


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (timedelta(minutes=-1), "too_early"),  # relative to created_at
        (None, "too_late"),  # after expiry + late window
    ],
)
async def test_transfer_outside_the_window_is_unmatched(
    shop: Db, offset: timedelta | None, reason: str
) -> None:
    order = await make_order(shop)
    when = order.created_at + offset if offset is not None else order.expires_at + timedelta(minutes=31)
    result = await run_ingest(shop, [paying(order, at=when)])
    assert dict(result.unmatched) == {reason: 1}
    [row] = await transfer_rows(shop)
    assert (row.status, row.reason, row.order_id) == ("unmatched", reason, order.id)
    assert (await load(shop, order.id)).status == "pending"


@pytest.mark.parametrize(("delta", "reason"), [(-1, "underpaid"), (1, "overpaid"), (-5_000_000, "underpaid")])
async def test_wrong_amount_names_the_likely_order(shop: Db, delta: int, reason: str) -> None:
    order = await make_order(shop)
    assert order.usdt_units is not None
    result = await run_ingest(shop, [paying(order, amount_units=order.usdt_units + delta)])
    assert dict(result.unmatched) == {reason: 1}
    [row] = await transfer_rows(shop)
    assert (row.reason, row.order_id) == (reason, order.id)
    assert (await load(shop, order.id)).status == "pending"


async def test_transfer_with_no_order_at_all_is_kept(shop: Db) -> None:
    order = await make_order(shop)
    stranger = paying(order, to_address=eth_address(2), amount_units=123)
    result = await run_ingest(shop, [stranger])
    assert dict(result.unmatched) == {"no_order": 1}
    [row] = await transfer_rows(shop)
    assert (row.reason, row.order_id, row.to_address) == ("no_order", None, eth_address(2))


async def test_second_payment_of_a_paid_order_is_unmatched(shop: Db) -> None:
    order = await make_order(shop)
    first, second = paying(order), paying(order)
    await run_ingest(shop, [first])
    result = await run_ingest(shop, [second])
    assert dict(result.unmatched) == {"already_paid": 1}
    assert (await load(shop, order.id)).tx_hash == first.tx_hash


async def test_two_payments_in_one_batch_settle_once(shop: Db) -> None:
    order = await make_order(shop)
    a, b = paying(order, block_number=10), paying(order, block_number=11)
    result = await run_ingest(shop, [b, a])
    assert result.matched_orders == [order.id] and dict(result.unmatched) == {"already_paid": 1}
    assert (await load(shop, order.id)).tx_hash == a.tx_hash  # the earlier block wins


async def test_wrong_token_and_failed_receipt_never_settle(shop: Db) -> None:
    order = await make_order(shop)
    fake_token = paying(order, token_contract=eth_address(0xDEAD))
    reverted = paying(order, success=False)
    result = await run_ingest(shop, [fake_token, reverted])
    assert dict(result.unmatched) == {"wrong_token": 1, "failed_receipt": 1}
    assert (await load(shop, order.id)).status == "pending"


async def test_token_contract_compares_case_insensitively_on_evm(shop: Db) -> None:
    order = await make_order(shop)
    lower = paying(order, token_contract=RULES.token_contract.lower())
    result = await run_ingest(shop, [lower])
    assert result.matched_orders == [order.id]


async def test_closed_order_is_not_paid(shop: Db) -> None:
    order = await make_order(shop)
    async with shop.sessions() as session:
        row = await session.get(Order, order.id)
        assert row is not None
        row.status = "closed"
        await session.commit()
    result = await run_ingest(shop, [paying(order)])
    assert dict(result.unmatched) == {"order_closed": 1}


async def test_order_without_notify_url_is_paid_without_notification(shop: Db) -> None:
    order = await make_order(shop, notify_url="")
    await run_ingest(shop, [paying(order)])
    assert (await load(shop, order.id)).status == "paid"
    assert await count(shop, Notification) == 0


async def test_old_order_on_a_relet_amount_does_not_take_a_new_payment(shop: Db) -> None:
    """The slot is re-let after expiry + late window: a payment in the new
    order's window pays the new order, never the old one."""
    old = await make_order(shop)
    later = old.expires_at + timedelta(minutes=31)
    new = await make_order(shop, now=later)
    assert (new.address, new.usdt_units) == (old.address, old.usdt_units)
    result = await run_ingest(shop, [paying(new, at=later + timedelta(minutes=1))], now=later)
    assert result.matched_orders == [new.id]
    assert (await load(shop, old.id)).status == "pending"


async def test_ingest_refuses_transfers_of_another_chain(shop: Db) -> None:
    order = await make_order(shop)
    with pytest.raises(ValueError, match="another chain"):
        await run_ingest(shop, [replace(paying(order), chain="tron")])
    assert await transfer_rows(shop) == []


async def test_block_in_the_same_second_as_the_order_counts(shop: Db) -> None:
    """Block timestamps are whole seconds: a block mined in the order's own
    second carries a time before created_at and must still match."""
    order = await make_order(shop, now=T0 + timedelta(milliseconds=700))
    assert order.usdt_units is not None
    short = await make_order(shop, now=T0 + timedelta(milliseconds=800), amount_units=20_000_000)
    assert short.usdt_units is not None
    result = await run_ingest(
        shop, [paying(order, at=T0), paying(short, at=T0, amount_units=short.usdt_units - 1)]
    )
    assert result.matched_orders == [order.id] and dict(result.unmatched) == {"underpaid": 1}
    early = await run_ingest(shop, [paying(order, at=T0 - timedelta(seconds=1))])
    assert dict(early.unmatched) == {"too_early": 1}


async def test_unmatched_rows_written_concurrently_are_counted_as_existing(shop: Db) -> None:
    """The bulk insert skips rows another writer stored after our pre-check."""
    from engine.settlement.ingest import insert_unmatched
    from engine.settlement.matching import Verdict
    from engine.settlement.rules import Reason

    order = await make_order(shop)
    rows = [(paying(order, amount_units=i, log_index=i), Verdict(None, Reason.NO_ORDER)) for i in range(1, 6)]
    async with shop.sessions() as session:
        assert await insert_unmatched(session, rows[:2], NOW, "watcher") == ({"no_order": 2}, 0)
        reasons, existed = await insert_unmatched(session, rows, NOW, "watcher")
        await session.commit()
    assert (dict(reasons), existed) == ({"no_order": 3}, 2)
    assert len(await transfer_rows(shop)) == 5
