"""Crediting an unmatched transfer to an order, marking one refunded, and
the operator actions on orders, merchants and wallets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.admin import decisions, operations, queries
from engine.errors import BadInput, BusinessRule, NotFound
from engine.merchants import get_merchant
from engine.models import Notification, Order, Transfer
from engine.money import format_usdt
from tests.dbharness import Db
from tests.factories import MERCHANT_PID
from tests.unit.engine.admin.support import NOW, send, underpaid_books, usdt_order


@pytest.fixture
def db(any_db: Db) -> Db:
    """These run on SQLite and on PostgreSQL (row locks, JSON, booleans)."""
    return any_db


async def test_credit_settles_the_order_and_records_who_and_why(db: Db) -> None:
    order, transfer = await underpaid_books(db)
    async with db.sessions() as session:
        [row] = await queries.unmatched_transfers(session)
        assert row.transfer.id == transfer.id and row.likely is not None and row.likely.id == order.id
        decision = await decisions.credit_transfer(
            session, transfer.id, order.id, "shop accepts 0.01 short", "alice", NOW
        )
        await session.commit()
    assert (decision.decision, decision.reason_before, decision.decided_by) == (
        "credited",
        "underpaid",
        "alice",
    )
    async with db.sessions() as session:
        paid = await session.get(Order, order.id)
        moved = await session.get(Transfer, transfer.id)
        notice = await session.scalar(select(Notification).where(Notification.order_id == order.id))
        assert paid is not None and moved is not None
        assert (
            paid.status == "paid"
            and paid.transfer_id == transfer.id
            and paid.paid_units == transfer.amount_units
        )
        assert moved.status == "matched" and moved.order_id == order.id
        assert notice is not None and notice.status == "pending"  # the merchant hears about it
        assert await queries.unmatched_transfers(session) == []
        [resolved] = await queries.unmatched_transfers(session, resolved=True)
        assert resolved.decision is not None and resolved.decision.note == "shop accepts 0.01 short"


async def test_credit_needs_a_note_and_an_unpaid_order_at_that_address(db: Db) -> None:
    order, transfer = await underpaid_books(db)
    async with db.sessions() as session:
        with pytest.raises(BadInput, match="note"):
            await decisions.credit_transfer(session, transfer.id, order.id, "  ", "alice", NOW)
        with pytest.raises(NotFound):
            await decisions.credit_transfer(session, transfer.id, 12345, "a real reason", "alice", NOW)
    async with db.sessions() as session:
        merchant = await get_merchant(session, MERCHANT_PID)
    assert merchant is not None
    other = await usdt_order(db, merchant, 5_000_000, "U-2")
    await send(db, other, other.usdt_units or 0, NOW + timedelta(seconds=40))  # pays U-2 exactly
    async with db.sessions() as session:
        with pytest.raises(decisions.DecisionRefused, match="only an unpaid"):
            await decisions.credit_transfer(session, transfer.id, other.id, "a real reason", "alice", NOW)


async def test_a_transfer_is_decided_once(db: Db) -> None:
    order, transfer = await underpaid_books(db)
    async with db.sessions() as session:
        await decisions.mark_refunded(session, transfer.id, "sent back by hand, tx abc", "alice", NOW)
        await session.commit()
    async with db.sessions() as session:
        with pytest.raises(decisions.DecisionRefused, match="decided already"):
            await decisions.credit_transfer(session, transfer.id, order.id, "a real reason", "alice", NOW)
        with pytest.raises(decisions.DecisionRefused):
            await decisions.mark_refunded(session, transfer.id, "again and again", "bob", NOW)
        still = await session.get(Transfer, transfer.id)
        assert still is not None and still.status == "unmatched"
        assert await queries.unmatched_transfers(session) == []


async def test_close_order_and_merchant_switches(db: Db) -> None:
    order, _ = await underpaid_books(db)
    async with db.sessions() as session:
        before, after = await operations.close_order(session, order.id, [])
        await session.commit()
    assert (before["status"], after["status"]) == ("pending", "closed")
    async with db.sessions() as session:
        with pytest.raises(BusinessRule, match="only an unpaid"):
            await operations.close_order(session, order.id, [])
        await operations.set_merchant_enabled(session, MERCHANT_PID, False)
        await session.commit()
    async with db.sessions() as session:
        assert await get_merchant(session, MERCHANT_PID) is None  # the faces no longer know it
        assert await get_merchant(session, MERCHANT_PID, include_disabled=True) is not None
        key, (old, new) = await operations.rotate_merchant_key(session, MERCHANT_PID)
        await session.commit()
    assert len(key) == 48 and key not in str(old) + str(new)
    async with db.sessions() as session:
        merchant = await get_merchant(session, MERCHANT_PID, include_disabled=True)
        assert merchant is not None and merchant.key == key


async def test_search_finds_an_order_by_every_id(db: Db) -> None:
    order, transfer = await underpaid_books(db)
    async with db.sessions() as session:
        await decisions.credit_transfer(session, transfer.id, order.id, "accept the short pay", "alice", NOW)
        await session.commit()
    assert order.usdt_units is not None and order.address is not None
    amount = format_usdt(order.usdt_units)
    for text in [
        str(order.id),
        "U-1",
        transfer.tx_hash,
        "0x" + transfer.tx_hash.upper(),
        order.address,
        amount,
    ]:
        async with db.sessions() as session:
            found = await queries.search_orders(session, text)
        assert [o.id for o in found] == [order.id], text
    async with db.sessions() as session:
        assert await queries.search_orders(session, "nothing-like-this") == []
        story = await queries.order_records(session, order)
    assert [t.id for t in story.transfers] == [transfer.id] and story.decisions[
        transfer.id
    ].decision == "credited"
    assert story.reservations and story.merchant is not None


async def test_figures_per_merchant_wallet_and_chain(db: Db) -> None:
    order, transfer = await underpaid_books(db)
    async with db.sessions() as session:
        await decisions.credit_transfer(session, transfer.id, order.id, "accept the short pay", "alice", NOW)
        await session.commit()
    since = NOW - timedelta(days=1)
    async with db.sessions() as session:
        [volume] = await queries.paid_volume(session, since)
        [figures] = await queries.merchant_figures(session, since)
        [load] = await queries.wallets_with_reservations(session, NOW)
    assert (volume.via, volume.paid, volume.usdt_units, volume.fiat_fen) == (
        "tron",
        1,
        transfer.amount_units,
        0,
    )
    assert (figures.orders, figures.paid, figures.usdt_units, figures.failed_notifications) == (
        1,
        1,
        transfer.amount_units,
        0,
    )
    assert load.live_count == 1 and load.live[0].order_id == order.id
