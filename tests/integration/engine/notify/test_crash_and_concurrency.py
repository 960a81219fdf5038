"""At-least-once under crashes, and no double sends with several workers.

- a worker cancelled between sending and recording: its rows stay leased,
  then are sent again once the lease expires; nothing is lost, the repeat
  carries the same delivery id, the orphaned attempt is marked `unknown`;
- the long-running worker picks up rows committed while it runs;
- two workers on one database (PostgreSQL with SKIP LOCKED, SQLite with
  its single writer) never send the same notification at the same time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from engine.clock import ManualClock, SystemClock
from engine.models import Merchant
from engine.notify.delivery import Job
from engine.notify.transport import AttemptResult, new_client
from engine.notify.worker import Notifier
from tests.dbharness import Db, open_db
from tests.factories import MERCHANT_KEY, make_merchant
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.notify.support import (
    all_delivered,
    attempts_of,
    eventually,
    notifications,
    notify_settings,
    paid_order,
)


async def test_worker_cancelled_between_send_and_record_loses_nothing(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    others = [await make_merchant(any_db, pid=f"2000{i}", key=MERCHANT_KEY) for i in range(3)]
    for i, owner in enumerate([merchant, *others] * 3):
        await paid_order(any_db, owner, "usdt", receiver.url("usdt"), clock.now(), order_no=f"K{i}")
    sent: list[Job] = []
    stuck = asyncio.Event()

    async def crash_after_two(job: Job, result: AttemptResult) -> None:
        sent.append(job)
        if len(sent) >= 2:
            stuck.set()
            await asyncio.Event().wait()  # never records: the worker dies here

    settings = notify_settings(any_db, workers=4)
    doomed = Notifier(any_db.sessions, settings, clock, client, after_send=crash_after_two)
    task = asyncio.create_task(doomed.round())
    await asyncio.wait_for(stuck.wait(), 10)
    await asyncio.sleep(0.2)  # let the other lanes reach the same point
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    rows = await notifications(any_db)
    leased = [r for r in rows if r.claimed_until is not None]
    assert {r.status for r in leased} == {"pending"}
    assert len(leased) == len(rows) - 1  # only the first send was recorded
    # a restarted worker leaves leased rows alone until the lease runs out
    restarted = Notifier(any_db.sessions, settings, clock, client)
    assert await restarted.round() == 0
    clock.set(max(r.claimed_until for r in leased if r.claimed_until) + timedelta(seconds=1))
    while await restarted.round():
        pass
    rows = await notifications(any_db)
    assert {r.status for r in rows} == {"delivered"}
    counts = Counter(r.delivery_id for r in receiver.received if r.acked)
    assert set(counts) == {r.delivery_id for r in rows}  # every one acknowledged
    repeated = {d for d, n in counts.items() if n > 1}
    assert repeated and repeated <= {j.delivery.delivery_id for j in sent}  # only what was in flight
    for row in leased:
        outcomes = [a.outcome for a in await attempts_of(any_db, row.id)]
        assert outcomes == ["unknown", "delivered"]


async def test_running_worker_delivers_rows_committed_while_it_runs(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver
) -> None:
    settings = notify_settings(any_db)
    stop = asyncio.Event()
    async with new_client(settings) as client:
        worker = Notifier(any_db.sessions, settings, SystemClock(), client)
        task = asyncio.create_task(worker.run(stop))
        try:
            for i in range(5):
                await paid_order(
                    any_db,
                    merchant,
                    "quickpay",
                    receiver.url("quickpay"),
                    SystemClock().now(),
                    order_no=f"R{i}",
                )
                await asyncio.sleep(0.03)
            await all_delivered(any_db, 5)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    rows = await notifications(any_db)
    assert {r.status for r in rows} == {"delivered"}
    assert receiver.acked_order() == [r.delivery_id for r in rows]


async def test_two_workers_never_send_the_same_notification_at_once(
    any_db: Db, receiver: MerchantReceiver
) -> None:
    merchants = [await make_merchant(any_db, pid=f"3{i:04d}", key=MERCHANT_KEY) for i in range(12)]
    now = SystemClock().now()
    for i in range(120):
        owner = merchants[i % len(merchants)]
        face = ("usdt", "dryad", "quickpay")[i % 3]
        await paid_order(any_db, owner, face, receiver.url(face), now, order_no=f"T{i}")
    receiver.behave("ok", delay=0.005)  # keep requests in flight long enough to overlap
    second = await open_db(any_db.url)  # a separate engine, as in another process
    settings = notify_settings(any_db, workers=6, batch_size=10)
    stop = asyncio.Event()
    try:
        async with new_client(settings) as c1, new_client(settings) as c2:
            workers = [
                Notifier(any_db.sessions, settings, SystemClock(), c1),
                Notifier(second.sessions, settings, SystemClock(), c2),
            ]
            tasks = [asyncio.create_task(w.run(stop)) for w in workers]
            try:
                await all_delivered(any_db, 120, within=60)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 15)
    finally:
        await second.close()
    assert all(w.attempts_made > 0 for w in workers)  # both took part
    assert sum(w.attempts_made for w in workers) == 120
    assert receiver.state.overlaps == []
    counts = Counter(r.delivery_id for r in receiver.received)
    assert len(counts) == 120 and set(counts.values()) == {1}  # each sent exactly once
    assert all(r.signature_ok for r in receiver.received)
    rows = await notifications(any_db)
    assert {r.status for r in rows} == {"delivered"} and {r.attempts for r in rows} == {1}


async def test_stopping_finishes_what_is_on_the_wire_and_gives_back_the_rest(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver
) -> None:
    clock = ManualClock()
    for i in range(5):  # one merchant: one lane, sent one after another
        await paid_order(any_db, merchant, "usdt", receiver.url("usdt"), clock.now(), order_no=f"G{i}")
    receiver.behave("ok", delay=0.3)
    settings = notify_settings(any_db, workers=2)
    stop = asyncio.Event()
    async with new_client(settings) as client:
        worker = Notifier(any_db.sessions, settings, clock, client)
        task = asyncio.create_task(worker.run(stop))
        await eventually(lambda: sum(receiver.state.in_flight.values()) >= 1, what="a request on the wire")
        stop.set()
        await asyncio.wait_for(task, 10)
        rows = await notifications(any_db)
        assert [r.status for r in rows] == ["delivered"] + ["pending"] * 4  # the one on the wire finished
        for row in rows[1:]:  # the rest are due again now, with no attempt counted
            assert row.claimed_until is None and row.attempts == 0 and row.first_attempt_at is None
            assert await attempts_of(any_db, row.id) == []
        assert await Notifier(any_db.sessions, settings, clock, client).round() == 4
    assert {r.status for r in await notifications(any_db)} == {"delivered"}
    assert len(receiver.received) == 5


async def test_usdtpay_run_starts_the_notifier(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver
) -> None:
    from api.workers.registry import available_workers
    from api.workers.supervisor import WorkerContext

    settings = notify_settings(any_db)
    worker = available_workers(settings)["notifier"]
    ctx = WorkerContext(settings=settings, sessions=any_db.sessions)
    task = asyncio.create_task(worker(ctx))
    try:
        await paid_order(any_db, merchant, "dryad", receiver.url("dryad"), SystemClock().now())
        await all_delivered(any_db, 1)
    finally:
        ctx.stop.set()
        await asyncio.wait_for(task, 10)
    assert receiver.acked()[0].signature_ok
