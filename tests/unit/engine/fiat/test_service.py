"""engine.fiat.service on SQLite and PostgreSQL: settlement is idempotent on
(channel, channel trade no), checks the amount and the channel, writes one
outbox row with the status change, and changes nothing on a mismatch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.config import Settings
from engine.errors import BusinessRule
from engine.fiat import queries as fiat_queries
from engine.fiat import service as fiat
from engine.models import ChannelPayment, Notification, Order
from engine.orders.schemas import Currency, NewOrder
from engine.orders.service import create_order
from tests.dbharness import Db
from tests.factories import make_merchant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    out_trade_no: str
    channel_trade_no: str
    amount_fen: int
    status: str = "paid"
    paid_at: datetime | None = NOW


async def new_payment(db: Db, fen: int = 1234, channel: str = "wechat", **order: object) -> ChannelPayment:
    merchant = await make_merchant(db)
    new = NewOrder(
        face="dryad",
        merchant_order_no="B1",
        currency=Currency(order.get("currency", "CNY")),
        amount_units=fen,
        notify_url="https://m.example/n",
    )
    # A fiat order: no rate is read.
    created, _ = await create_order(db.work, merchant, new, settings=Settings(), clock=ManualClock(NOW))
    async with db.sessions() as session:
        payment = await fiat.open_payment(session, created.id, channel=channel, client_type="qr", now=NOW)
        await session.commit()
        return payment


async def state(db: Db, payment: ChannelPayment) -> tuple[str, str, str | None, int]:
    async with db.sessions() as session:
        order = await session.get(Order, payment.order_id)
        stored = await session.get(ChannelPayment, payment.id)
        count = await session.scalar(select(func.count()).select_from(Notification))
        assert order is not None and stored is not None
        return order.status, stored.status, stored.channel_trade_no, int(count or 0)


async def settle(db: Db, event: Event, channel: str = "wechat") -> fiat.Settled:
    async with db.sessions() as session:
        result = await fiat.settle_channel_event(session, event, channel, NOW)
        await session.commit()
        return result


async def test_settles_once_and_notifies_once(any_db: Db) -> None:
    payment = await new_payment(any_db)
    event = Event(payment.out_trade_no, "4200001", 1234)
    assert (await settle(any_db, event)).outcome == fiat.Outcome.SETTLED
    assert (await settle(any_db, event)).outcome == fiat.Outcome.ALREADY
    assert await state(any_db, payment) == ("paid", "paid", "4200001", 1)


async def test_concurrent_callback_and_query_settle_once(any_db: Db) -> None:
    payment = await new_payment(any_db)
    event = Event(payment.out_trade_no, "4200002", 1234)
    results = await asyncio.gather(*(settle(any_db, event) for _ in range(4)), return_exceptions=True)
    outcomes = sorted(r.outcome for r in results if isinstance(r, fiat.Settled))
    assert outcomes.count(fiat.Outcome.SETTLED) == 1, results
    assert await state(any_db, payment) == ("paid", "paid", "4200002", 1)


@pytest.mark.parametrize(
    ("event_kw", "channel"),
    [
        ({"amount_fen": 1233}, "wechat"),  # wrong amount
        ({"amount_fen": 123400}, "wechat"),  # yuan read as fen
        ({}, "alipay"),  # right payment, wrong channel
        ({"channel_trade_no": ""}, "wechat"),  # no trade number
    ],
)
async def test_mismatch_changes_nothing(db: Db, event_kw: dict[str, object], channel: str) -> None:
    payment = await new_payment(db)
    fields: dict[str, object] = {
        "out_trade_no": payment.out_trade_no,
        "channel_trade_no": "4200003",
        "amount_fen": 1234,
    }
    with pytest.raises(fiat.FiatMismatch):
        await settle(db, Event(**(fields | event_kw)), channel)  # type: ignore[arg-type]
    assert await state(db, payment) == ("pending", "pending", None, 0)


async def test_a_trade_number_settles_only_one_payment(db: Db) -> None:
    payment = await new_payment(db)
    await settle(db, Event(payment.out_trade_no, "4200004", 1234))
    async with db.sessions() as session:
        order = await session.get(Order, payment.order_id)
        assert order is not None
        order.status = "pending"  # pretend a second payment was opened on a fresh order
        other = await fiat.open_payment(session, order.id, channel="wechat", client_type="qr", now=NOW)
        await session.commit()
    with pytest.raises(fiat.FiatMismatch):
        await settle(db, Event(other.out_trade_no, "4200004", 1234))


async def test_paying_twice_records_a_duplicate_without_notifying(db: Db) -> None:
    payment = await new_payment(db)
    async with db.sessions() as session:
        second = await fiat.open_payment(
            session, payment.order_id, channel="wechat", client_type="h5", now=NOW
        )
        await session.commit()
    await settle(db, Event(payment.out_trade_no, "4200005", 1234))
    result = await settle(db, Event(second.out_trade_no, "4200006", 1234))
    assert result.outcome == fiat.Outcome.DUPLICATE
    assert (await state(db, second))[1:] == ("paid", "4200006", 1)


async def test_a_late_payment_on_an_expired_order_is_marked_late(db: Db) -> None:
    payment = await new_payment(db)
    async with db.sessions() as session:
        assert await fiat.mark_payment(session, payment.id, "closed") is True
        assert await fiat.expire_fiat_order(session, payment.order_id, NOW + timedelta(hours=2))
        await session.commit()
    late = Event(payment.out_trade_no, "4200007", 1234, paid_at=NOW + timedelta(hours=1))
    assert (await settle(db, late)).outcome == fiat.Outcome.SETTLED
    async with db.sessions() as session:
        order = await session.get(Order, payment.order_id)
        assert order is not None and order.status == "paid" and order.paid_late


async def test_only_pending_cny_orders_get_payments(db: Db) -> None:
    payment = await new_payment(db)
    async with db.sessions() as session:
        with pytest.raises(BusinessRule, match="expired"):
            await fiat.open_payment(
                session, payment.order_id, channel="wechat", client_type="qr", now=NOW + timedelta(days=1)
            )
    await settle(db, Event(payment.out_trade_no, "4200008", 1234))
    async with db.sessions() as session:
        with pytest.raises(BusinessRule, match="paid"):
            await fiat.open_payment(session, payment.order_id, channel="wechat", client_type="qr", now=NOW)


async def test_due_for_query_skips_young_and_recently_queried(db: Db) -> None:
    payment = await new_payment(db)
    async with db.sessions() as session:
        assert await fiat_queries.due_for_query(session, NOW, min_age_seconds=60, limit=10) == []
        later = NOW + timedelta(minutes=2)
        [due] = await fiat_queries.due_for_query(session, later, min_age_seconds=60, limit=10)
        assert due.out_trade_no == payment.out_trade_no and due.channel == "wechat"
        skipped = await fiat_queries.due_for_query(
            session, later, min_age_seconds=60, limit=10, skip=frozenset({payment.id})
        )
        assert skipped == []
