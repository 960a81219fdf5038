"""From the usdt face to the merchant: the notify URL is checked at order
creation, a settled transfer writes the outbox row, the worker delivers
the seed-004 notification the merchant verifies; operators list and retry
from the command line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from api.http.app import create_app
from engine.chain import ChainTransfer
from engine.clock import ManualClock
from engine.config import TRON_USDT_CONTRACT, NotifySettings, Settings
from engine.models import Order
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from engine.settlement.ingest import Settle, settle_transfer
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant, make_wallets, signed, tron_address
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.notify.support import attempts_of, notifications, paid_order
from tests.paths import ROOT


def face_settings(db: Db, *allow: str) -> Settings:
    return Settings(
        database_url=db.url,
        rate_fixed=Decimal("7.20"),
        log_json=False,
        notify=NotifySettings(allow_hosts=list(allow), timeout_seconds=1.0),
    )


def create_body(notify_url: str, order_no: str = "20240101000001") -> dict[str, Any]:
    return signed(
        {
            "pid": "10001",
            "chain_type": 1,
            "order_no": order_no,
            "amount": "100.00",
            "currency": "CNY",
            "notify_url": notify_url,
            "param": '{"user_id": "123"}',
        }
    )


@pytest.fixture
async def shop(db: Db) -> AsyncIterator[Db]:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    yield db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/notify",
        "http://10.20.30.40/notify",
        "http://169.254.169.254/latest",
        "http://localhost/x",
    ],
)
async def test_create_refuses_a_private_notify_url(shop: Db, url: str) -> None:
    async with AsyncTestClient(app=create_app(face_settings(shop))) as client:
        resp = await client.post("/api/pay/create", json=create_body(url))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == 422 and body["data"] is None
    assert "notify_url" in body["msg"] and "USDTPAY_NOTIFY__ALLOW_HOSTS" in body["msg"]
    async with shop.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_paid_usdt_order_reaches_the_merchant(shop: Db) -> None:
    clock = ManualClock()
    with MerchantReceiver(MERCHANT_KEY) as receiver:
        settings = face_settings(shop, "127.0.0.1")
        async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
            resp = await client.post("/api/pay/create", json=create_body(receiver.url("usdt")))
        assert resp.status_code == 200, resp.text
        created = resp.json()["data"]
        order_id = int(created["plat_order_no"])
        units = int(Decimal(created["amount"]) * 10**6)
        transfer = ChainTransfer(
            chain="tron",
            tx_hash="ab" * 32,
            log_index=0,
            block_number=1000,
            block_time=clock.advance(minutes=1),
            from_address=tron_address(99),
            to_address=created["u_addr"],
            token_contract=TRON_USDT_CONTRACT,
            amount_units=units,
        )
        async with shop.sessions() as session:  # what the watcher step does
            assert (
                await settle_transfer(session, transfer, order_id, clock.now(), source="watcher")
                is Settle.SETTLED
            )
            await session.commit()
        async with new_client(settings) as http:
            assert await Notifier(shop.sessions, settings, clock, http).round() == 1
        [got] = receiver.received
    assert got.signature_ok and got.acked
    fields = got.fields
    assert fields["pid"] == "10001"
    assert fields["plat_order_no"] == created["plat_order_no"]
    assert fields["order_no"] == "20240101000001"
    assert fields["amount"] == created["amount"]
    assert fields["cny_amount"] == "100.00"
    assert fields["status"] == "paid"
    assert fields["chain_type"] == "1"  # the receiver keeps JSON number text
    assert fields["paytime"] == str(int(transfer.block_time.timestamp()))
    assert fields["param"] == '{"user_id": "123"}'
    [row] = await notifications(shop)
    assert row.status == "delivered" and got.headers["x-delivery-id"] == row.delivery_id


async def run_cli(db: Db, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "USDTPAY_DATABASE_URL": db.url,
        "USDTPAY_NOTIFY__ALLOW_HOSTS": '["127.0.0.1"]',
        "USDTPAY_NOTIFY__TIMEOUT_SECONDS": "1",
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_operators_list_failed_and_retry_from_the_cli(db: Db) -> None:
    merchant = await make_merchant(db)
    clock = ManualClock()
    settings = face_settings(db, "127.0.0.1")
    with MerchantReceiver(MERCHANT_KEY) as broken, MerchantReceiver(MERCHANT_KEY) as working:
        broken.behave("fail")
        order, stuck = await paid_order(db, merchant, "dryad", broken.url("dryad"), clock.now())
        _, fine = await paid_order(db, merchant, "usdt", working.url("usdt"), clock.now(), order_no="OK1")
        async with new_client(settings) as http:
            notifier = Notifier(db.sessions, settings, clock, http)
            for _ in range(12):  # dryad gives up after its 10th attempt
                while await notifier.round():
                    pass
                clock.advance(hours=1)
        statuses = {r.delivery_id: r.status for r in await notifications(db)}
        assert statuses == {stuck.delivery_id: "failed", fine.delivery_id: "delivered"}

        code, out = await run_cli(db, "notify", "list", "--failed")
        assert code == 0, out
        assert stuck.delivery_id in out and fine.delivery_id not in out
        assert str(order.id) in out and "HTTP 500" in out and "failed" in out

        code, out = await run_cli(db, "notify", "list", "--order", str(order.id))
        assert code == 0 and stuck.delivery_id in out

        broken.behave("ok")  # the merchant fixed its endpoint
        code, out = await run_cli(db, "notify", "retry", str(stuck.id))
        assert code == 0, out
        assert "delivered" in out
        assert {r.delivery_id: r.status for r in await notifications(db)}[stuck.delivery_id] == "delivered"
        attempts = await attempts_of(db, stuck.id)
        assert len(attempts) == 11 and attempts[-1].outcome == "delivered"
        assert broken.acked()[0].headers["x-delivery-id"] == stuck.delivery_id

        code, out = await run_cli(db, "notify", "retry", fine.delivery_id)
        assert code == 2 and "--force" in out  # acknowledged already: only with --force
        assert len(working.received) == 1
