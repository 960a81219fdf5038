"""GET /metrics after a scripted flow: orders created over HTTP, one settled
by ingest, one unmatched transfer, a notification delivered to a real
receiver on loopback, a watcher cursor behind its final head."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from engine.chain import ChainTransfer, Heads
from engine.clock import ManualClock
from engine.config import TRON_USDT_CONTRACT, NotifySettings, OpsSettings, Settings, TronSettings
from engine.models import Order
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from engine.settlement import ingest, init_cursor, record_heads, rules_for
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant, make_wallets, signed, tron_address
from tests.fakes.merchant_receiver import MerchantReceiver

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@dataclass
class Flow:
    db: Db
    settings: Settings
    client: AsyncTestClient
    clock: ManualClock
    receiver: MerchantReceiver


@pytest.fixture
async def flow(db: Db) -> AsyncIterator[Flow]:
    settings = Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        tron=TronSettings(enabled=True),
        notify=NotifySettings(allow_hosts=["127.0.0.1"], timeout_seconds=2.0),
        ops=OpsSettings(metrics_open=True),
    )
    await make_merchant(db)
    await make_wallets(db, "tron", 2)
    clock = ManualClock(T0)
    with MerchantReceiver(MERCHANT_KEY) as receiver:
        async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
            yield Flow(db, settings, client, clock, receiver)


async def create(flow: Flow, order_no: str, amount: str) -> Order:
    body = {
        "pid": "10001",
        "chain_type": 1,
        "order_no": order_no,
        "amount": amount,
        "type": 1,
        "currency": "USDT",
        "scanpay": 1,
        "notify_url": flow.receiver.url("usdt"),
    }
    resp = await flow.client.post("/api/pay/create", json=signed(body))
    assert resp.status_code == 200, resp.text
    async with flow.db.sessions() as session:
        order = await session.get(Order, int(resp.json()["data"]["plat_order_no"]))
        assert order is not None
        return order


async def test_metrics_after_a_scripted_flow(flow: Flow) -> None:
    orders = [await create(flow, f"M-{i}", amount) for i, amount in enumerate(["10.00", "20.00", "30.00"])]
    paid = orders[0]
    assert paid.address is not None and paid.usdt_units is not None
    when = T0 + timedelta(minutes=1)
    transfers = [
        ChainTransfer("tron", "a1" * 32, 0, 1000, when, tron_address(90), paid.address, TRON_USDT_CONTRACT,
                      paid.usdt_units),
        ChainTransfer("tron", "b2" * 32, 0, 1001, when, tron_address(91), paid.address, TRON_USDT_CONTRACT,
                      1_000_000),
    ]  # fmt: skip
    flow.clock.set(T0 + timedelta(minutes=2))
    async with flow.db.sessions() as session:
        await ingest(session, "tron", transfers, flow.clock.now(), rules_for(flow.settings, "tron"))
        await init_cursor(session, "tron", 1002, flow.clock.now())
        await record_heads(session, "tron", Heads(head=1050, final=1031), flow.clock.now())
        await session.commit()
    async with new_client(flow.settings) as http:
        notifier = Notifier(flow.db.sessions, flow.settings, flow.clock, http)
        assert await notifier.round() == 1
    assert len(flow.receiver.acked()) == 1

    resp = await flow.client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = parse(resp.text)
    assert value(m, "usdtpay_orders_created_total", face="usdt", channel="tron") == 3
    assert value(m, "usdtpay_orders_paid_total", face="usdt", channel="tron") == 1
    assert value(m, "usdtpay_orders_last_hour", status="paid") == 1
    assert value(m, "usdtpay_orders_last_hour", status="pending") == 2
    assert value(m, "usdtpay_transfers_total", chain="tron", status="matched", reason="") == 1
    unmatched = [
        v for (n, lab), v in m.items() if n == "usdtpay_transfers_total" and ("status", "unmatched") in lab
    ]
    assert sum(unmatched) == 1
    assert value(m, "usdtpay_transfers_unmatched", chain="tron") == 1
    assert value(m, "usdtpay_notification_attempts_total", scheme="usdt", outcome="delivered") == 1
    assert value(m, "usdtpay_notification_attempt_latency_seconds_count") == 1
    assert value(m, "usdtpay_notification_attempt_latency_seconds_bucket", le="+Inf") == 1
    assert value(m, "usdtpay_notifications_pending") == 0
    assert value(m, "usdtpay_notifications_due") == 0
    assert value(m, "usdtpay_watcher_cursor_block", chain="tron") == 1001
    assert value(m, "usdtpay_watcher_final_block", chain="tron") == 1031
    assert value(m, "usdtpay_watcher_lag_blocks", chain="tron") == 30
    assert value(m, "usdtpay_watcher_lag_seconds", chain="tron") == 90
    assert value(m, "usdtpay_rate_cny_per_usdt") == 7.2
    assert value(m, "usdtpay_rate_age_seconds") == 0
    assert ("process_cpu_seconds_total", ()) in m or any(n.startswith("python_info") for n, _ in m)


async def test_backlog_gauges_follow_the_clock(flow: Flow) -> None:
    await create(flow, "B-1", "5.00")
    order = await create(flow, "B-2", "6.00")
    assert order.usdt_units is not None and order.address is not None
    t = ChainTransfer("tron", "c3" * 32, 0, 7, T0 + timedelta(seconds=30), tron_address(5), order.address,
                      TRON_USDT_CONTRACT, order.usdt_units)  # fmt: skip
    async with flow.db.sessions() as session:
        await ingest(session, "tron", [t], T0 + timedelta(minutes=1), rules_for(flow.settings, "tron"))
        await session.commit()
    flow.clock.set(T0 + timedelta(minutes=11))  # ten minutes after the notification became due
    m = parse((await flow.client.get("/metrics")).text)
    assert value(m, "usdtpay_notifications_pending") == 1
    assert value(m, "usdtpay_notifications_due") == 1
    assert value(m, "usdtpay_notification_oldest_due_seconds") == 600
    health = (await flow.client.get("/api/health")).json()["data"]
    assert health["notifications"] == {"status": "UP", "pending": 1, "oldest_due_seconds": 600}
    flow.clock.advance(seconds=1)  # past ops.notify_oldest_due_degraded_seconds (600)
    health = (await flow.client.get("/api/health")).json()["data"]
    assert health["status"] == "DEGRADED" and health["notifications"]["status"] == "DEGRADED"
    assert "notifier" in health["notifications"]["message"]


async def test_metrics_refuse_untrusted_callers(db: Db) -> None:
    settings = Settings(database_url=db.url, rate_fixed=Decimal("7.20"), log_json=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        resp = await client.get("/metrics")  # the test client is not in api.trusted_networks
    assert resp.status_code == 403 and "trusted_networks" in resp.text
