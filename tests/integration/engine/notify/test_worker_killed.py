"""The worker process killed with SIGKILL in the middle of a batch, then
restarted: every notification is still delivered (at-least-once), repeats
are only of what was on the wire at the kill, never two at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter

from engine.clock import SystemClock
from engine.models import Merchant
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.notify.support import all_delivered, eventually, notifications, paid_order
from tests.paths import ROOT

LEASE_S = 4.0


async def start_worker(url: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.engine.notify.worker_proc",
        url,
        str(LEASE_S),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    try:  # a loaded machine may take long to import; a worker that never got ready must not outlive the test
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line.strip() == b"ready", line
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc


async def test_sigkill_mid_batch_then_restart_loses_nothing(
    any_db: Db, merchant: Merchant, receiver: MerchantReceiver
) -> None:
    owners = [merchant, *[await make_merchant(any_db, pid=f"4000{i}", key=MERCHANT_KEY) for i in range(3)]]
    for i in range(40):
        face = ("usdt", "dryad", "quickpay")[i % 3]
        await paid_order(
            any_db, owners[i % 4], face, receiver.url(face), SystemClock().now(), order_no=f"S{i}"
        )
    receiver.behave("ok", delay=0.15)  # requests stay on the wire long enough to be cut
    first = await start_worker(any_db.url)
    try:
        await eventually(lambda: len(receiver.received) >= 6, within=30, what="six deliveries")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    await asyncio.sleep(0.3)  # requests cut mid-way finish on the receiver's side
    seen_before_kill = {r.delivery_id for r in receiver.received}
    rows = await notifications(any_db)
    assert any(r.status == "pending" and r.claimed_until is not None for r in rows)  # cut mid-batch

    second = await start_worker(any_db.url)
    try:
        await all_delivered(any_db, 40, within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 15)
    assert second.returncode == 0  # a clean stop

    counts = Counter(r.delivery_id for r in receiver.received if r.acked)
    assert set(counts) == {r.delivery_id for r in await notifications(any_db)}
    repeated = {d for d, n in counts.items() if n > 1}
    assert repeated <= seen_before_kill
    assert receiver.state.overlaps == []
    assert all(r.signature_ok for r in receiver.received)
