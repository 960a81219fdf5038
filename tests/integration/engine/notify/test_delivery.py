"""Delivery against a real merchant endpoint on loopback, on SQLite and
PostgreSQL: each face's wire format and signature, faults, attempt records,
the receiver down and back, and nothing sent after an acknowledgement."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.clock import ManualClock
from engine.models import Merchant
from engine.notify.admin import list_deliveries
from engine.notify.worker import Notifier
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.notify.support import (
    add_payment,
    attempts_of,
    eventually,
    notifications,
    paid_order,
)


async def drain(notifier: Notifier) -> int:
    """Rounds until nothing is due now; returns attempts made."""
    total = 0
    while made := await notifier.round():
        total += made
    return total


@pytest.mark.parametrize("face", ["usdt", "dryad", "quickpay"])
async def test_each_face_is_delivered_signed_and_recorded(
    any_db: Db,
    merchant: Merchant,
    receiver: MerchantReceiver,
    notifier: Notifier,
    clock: ManualClock,
    face: str,
) -> None:
    order, row = await paid_order(any_db, merchant, face, receiver.url(face), clock.now())
    assert await drain(notifier) == 1
    [got] = receiver.received
    assert got.signature_ok and got.acked
    assert got.headers["x-delivery-id"] == row.delivery_id
    assert got.headers["content-type"].startswith("application/json")
    assert got.body == row.body.encode()  # the stored bytes, exactly
    [done] = await notifications(any_db)
    assert done.status == "delivered" and done.delivered_at == clock.now()
    assert done.attempts == 1 and done.claimed_until is None
    [attempt] = await attempts_of(any_db, done.id)
    assert attempt.outcome == "delivered" and attempt.http_status == 200
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0
    assert attempt.response_body and attempt.error is None
    assert str(order.id) in got.body.decode()


async def test_dryad_trade_id_is_the_latest_payment(
    any_db: Db, merchant: Merchant, clock: ManualClock
) -> None:
    order, first = await paid_order(any_db, merchant, "dryad", "http://127.0.0.1:9/x", clock.now())
    assert json.loads(first.body)["tradeId"] == order.id  # no payment yet: the order id
    order2, _ = await paid_order(
        any_db, merchant, "dryad", "http://127.0.0.1:9/x", clock.now(), order_no="B2"
    )
    await add_payment(any_db, order2, clock.now() - timedelta(minutes=1))
    latest = await add_payment(any_db, order2, clock.now())
    from engine.notify.outbox import build_body

    async with any_db.sessions() as session:
        body = await build_body(session, "dryad", order2, merchant)
    assert json.loads(body)["tradeId"] == latest


async def test_enqueue_is_idempotent_per_order_and_event(
    any_db: Db, merchant: Merchant, clock: ManualClock
) -> None:
    from engine.notify.outbox import enqueue_order_event

    order, row = await paid_order(any_db, merchant, "usdt", "http://127.0.0.1:9/x", clock.now())
    async with any_db.sessions() as session:
        again = await enqueue_order_event(session, order, merchant, "paid", clock.now())
        skipped = await enqueue_order_event(session, order, merchant, "expired", clock.now())
        await session.commit()
    assert again is not None and again.id == row.id
    assert skipped is None
    assert len(await notifications(any_db)) == 1


@pytest.mark.parametrize(
    ("mode", "error_part", "status"),
    [
        ("fail", "HTTP 500", 500),
        ("wrong_body", "HTTP 200", 200),
        ("timeout", "no answer within", None),
        ("redirect", "HTTP 302", 302),
    ],
)
async def test_faults_are_recorded_and_retried_on_schedule(
    any_db: Db,
    merchant: Merchant,
    receiver: MerchantReceiver,
    notifier: Notifier,
    clock: ManualClock,
    mode: str,
    error_part: str,
    status: int | None,
) -> None:
    receiver.behave(mode, times=1, delay=1.5 if mode == "timeout" else 0.0)
    await paid_order(any_db, merchant, "usdt", receiver.url("usdt"), clock.now())
    assert await drain(notifier) == 1
    [row] = await notifications(any_db)
    assert row.status == "pending"
    assert row.next_attempt_at == clock.now() + timedelta(seconds=15)  # usdt: 15 s after the first
    [attempt] = await attempts_of(any_db, row.id)
    assert attempt.outcome == "retry" and attempt.http_status == status
    assert error_part in (attempt.error or "")
    assert row.last_error == attempt.error
    # a redirect is never followed: the only request is the one to the merchant
    await eventually(lambda: len(receiver.received) == 1, what="the receiver's record")
    clock.advance(seconds=15)
    assert await drain(notifier) == 1
    [row] = await notifications(any_db)
    assert row.status == "delivered" and row.attempts == 2


async def test_flapping_receiver_gets_everything_in_the_end(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver, notifier: Notifier, clock: ManualClock
) -> None:
    receiver.behave("flap")
    for i in range(4):
        await paid_order(any_db, merchant, "dryad", receiver.url("dryad"), clock.now(), order_no=f"F{i}")
    for _ in range(10):
        await drain(notifier)
        clock.advance(minutes=1)
    rows = await notifications(any_db)
    assert [r.status for r in rows] == ["delivered"] * 4
    assert sorted(receiver.state.acked_ids) == sorted(r.delivery_id for r in rows)
    assert receiver.state.after_ack == []
    assert all(r.signature_ok for r in receiver.received)


async def test_receiver_down_then_back_delivers_all_in_order(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver, notifier: Notifier, clock: ManualClock
) -> None:
    other = await make_merchant(any_db, pid="10002", key=MERCHANT_KEY, name="second shop")
    receiver.stop()
    created = []
    for i in range(6):
        _, row = await paid_order(
            any_db, merchant, "usdt", receiver.url("usdt"), clock.now(), order_no=f"A{i}"
        )
        created.append(row.delivery_id)
    others = []
    for i in range(3):
        _, row = await paid_order(any_db, other, "usdt", receiver.url("usdt"), clock.now(), order_no=f"B{i}")
        others.append(row.delivery_id)
    # down for three attempts each: connection refused, recorded, rescheduled
    for _ in range(3):
        assert await drain(notifier) == 9
        rows = await notifications(any_db)
        assert {r.status for r in rows} == {"pending"}
        clock.set(max(r.next_attempt_at for r in rows))
    attempts = await attempts_of(any_db, rows[0].id)
    assert [a.outcome for a in attempts] == ["retry"] * 3
    assert all("ConnectError" in (a.error or "") for a in attempts)
    receiver.start()
    assert await drain(notifier) == 9
    rows = await notifications(any_db)
    assert {r.status for r in rows} == {"delivered"}
    order = receiver.acked_order()
    assert [d for d in order if d in created] == created  # per merchant, in outbox order
    assert [d for d in order if d in others] == others
    assert len(receiver.received) == 9 and receiver.state.after_ack == []
    # later rounds send nothing more: acknowledged means done
    clock.advance(hours=30)
    assert await drain(notifier) == 0


async def test_success_brings_the_merchants_backlog_forward(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver, notifier: Notifier, clock: ManualClock
) -> None:
    receiver.behave("fail", times=3)
    _, old = await paid_order(any_db, merchant, "usdt", receiver.url("usdt"), clock.now(), order_no="OLD")
    for _ in range(3):  # three failures: next try 2 minutes after the third
        await drain(notifier)
        [row] = await notifications(any_db)
        clock.set(row.next_attempt_at)
    clock.advance(seconds=-30)  # before the old row is due again
    _, new = await paid_order(any_db, merchant, "usdt", receiver.url("usdt"), clock.now(), order_no="NEW")
    assert await drain(notifier) == 2  # the new one, then the old one pulled forward
    assert {r.status for r in await notifications(any_db)} == {"delivered"}
    assert receiver.acked_order() == [new.delivery_id, old.delivery_id]


async def test_a_refused_destination_is_never_contacted(
    any_db: Db, merchant: Merchant, notifier: Notifier, clock: ManualClock
) -> None:
    await paid_order(any_db, merchant, "quickpay", "http://169.254.169.254/latest/meta-data/", clock.now())
    assert await drain(notifier) == 1
    [row] = await notifications(any_db)
    [attempt] = await attempts_of(any_db, row.id)
    assert attempt.http_status is None
    assert (attempt.error or "").startswith("refused:") and "link-local" in (attempt.error or "")
    assert row.status == "pending"  # DNS can change; the schedule goes on


@pytest.mark.parametrize(("face", "count"), [("usdt", 16), ("dryad", 10), ("quickpay", 57)])
async def test_schedule_runs_out_and_the_row_is_failed_and_listed(
    any_db: Db,
    merchant: Merchant,
    receiver: MerchantReceiver,
    notifier: Notifier,
    clock: ManualClock,
    face: str,
    count: int,
) -> None:
    receiver.behave("fail")
    first = clock.now()
    order, row = await paid_order(any_db, merchant, face, receiver.url(face), first)
    while True:
        await drain(notifier)
        [row] = await notifications(any_db)
        if row.status != "pending":
            break
        clock.set(row.next_attempt_at)
    assert row.status == "failed" and row.attempts == count
    attempts = await attempts_of(any_db, row.id)
    assert [a.outcome for a in attempts] == ["retry"] * (count - 1) + ["failed"]
    assert attempts[-1].started_at - first <= timedelta(hours=24)
    async with any_db.sessions() as session:
        views = await list_deliveries(session, failed_only=True)
        by_order = await list_deliveries(session, order_id=order.id)
    assert [v.notification.id for v in views] == [row.id]
    assert len(by_order[0].attempts) == count
    clock.advance(days=3)
    assert await drain(notifier) == 0  # failed rows stay failed until an operator retries
