"""Seed 004 type 2 on the usdt face: create an order paid by an exchange
transfer (plat OKX / BINANCE / HTX), the record at the exchange simulator,
the watcher, the merchant's signed notification; the supplement by each
exchange's identifiers with a reason code per failed check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.clock import ManualClock
from engine.config import NotifySettings, Settings
from engine.notify.transport import new_client
from engine.notify.worker import Notifier
from tests.dbharness import Db
from tests.factories import MERCHANT_KEY, make_merchant, signed
from tests.fakes.merchant_receiver import MerchantReceiver
from tests.integration.engine.exchanges.support import (
    Sims,
    add_account,
    credentials,
    running_sims,
    settings_for,
)
from watchers.exchanges.loop import ExchangeWatcher

PLATS = {"okx": "OKX", "binance": "BINANCE", "htx": "HTX"}


def create_body(
    plat: str | None, order_no: str, notify_url: str = "https://example.com/notify"
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "pid": "10001",
        "order_no": order_no,
        "amount": "25.00",
        "currency": "USDT",
        "type": 2,
        "notify_url": notify_url,
    }
    if plat is not None:
        fields["plat"] = plat
    return signed(fields)


def face_settings(db: Db, sims: Sims, allow: list[str] | None = None) -> Settings:
    base = settings_for(db, sims)
    return base.model_copy(
        update={
            "rate_fixed": Decimal("7.20"),
            "notify": NotifySettings(allow_hosts=allow or [], timeout_seconds=1),
        }
    )


@pytest.fixture
def sims() -> Iterator[Sims]:
    with running_sims() as running:
        yield running


@pytest.fixture
async def shop(db: Db, sims: Sims) -> AsyncIterator[tuple[Settings, ManualClock]]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))
    settings = face_settings(db, sims, ["127.0.0.1"])
    await make_merchant(db)
    for exchange in PLATS:
        await add_account(
            db, settings, exchange, credentials(sims, exchange), clock.now() - timedelta(hours=1)
        )
    yield settings, clock


def units(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 10**6 + int((frac + "000000")[:6])


@pytest.mark.parametrize("exchange", list(PLATS))
async def test_type_2_order_is_paid_at_the_exchange_and_the_merchant_hears_it(
    db: Db, sims: Sims, shop: tuple[Settings, ManualClock], exchange: str
) -> None:
    settings, clock = shop
    with MerchantReceiver(MERCHANT_KEY) as receiver:
        async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
            resp = await client.post(
                "/api/pay/create", json=create_body(PLATS[exchange], "X-1", receiver.url("usdt"))
            )
            assert resp.status_code == 200, resp.text
            data = resp.json()["data"]
            assert data["u_type"] == PLATS[exchange]
            uid = {"okx": sims.okx, "binance": sims.binance, "htx": sims.htx}[exchange]
            assert data["u_addr"] == str(next(iter(uid.keys.values())).uid)
            assert data["amount"].startswith("25.00")
            when = clock.advance(minutes=2)
            if exchange == "okx":
                sims.okx.add_deposit(amt=data["amount"], ts=when)
            elif exchange == "binance":
                sims.binance.add_pay(amount=data["amount"], when=when)  # "send to a Binance user"
            else:
                sims.htx.add_deposit(amount=data["amount"], created=when)
            clock.advance(minutes=1)
            watcher = ExchangeWatcher(settings, db.sessions, exchange, clock)
            try:
                await watcher.step_all()
            finally:
                await watcher.aclose()
            async with new_client(settings) as http:
                assert await Notifier(db.sessions, settings, clock, http).round() == 1
            query = await client.get("/api/pay/query", params=signed({"pid": "10001", "order_no": "X-1"}))
        [got] = receiver.received
    assert query.json()["data"]["status"] == "paid" and query.json()["data"]["u_type"] == PLATS[exchange]
    assert got.signature_ok and got.acked
    assert got.fields["status"] == "paid" and got.fields["chain_type"] == PLATS[exchange]
    assert got.fields["amount"] == data["amount"]


@pytest.mark.parametrize(("plat", "word"), [(None, "plat"), ("", "plat"), ("BYBIT", "BYBIT")])
async def test_type_2_without_a_known_plat_is_a_clear_422(
    db: Db, sims: Sims, shop: tuple[Settings, ManualClock], plat: str | None, word: str
) -> None:
    settings, clock = shop
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        resp = await client.post("/api/pay/create", json=create_body(plat, "X-2"))
    body = resp.json()
    assert resp.status_code == 422 and body["code"] == 422 and body["data"] is None
    assert word in body["msg"] and "OKX, BINANCE or HTX" in body["msg"]


async def test_plat_link_means_on_chain(db: Db, sims: Sims, shop: tuple[Settings, ManualClock]) -> None:
    settings, clock = shop
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        resp = await client.post(
            "/api/pay/create", json=signed({**create_body(None, "X-3"), "plat": "LINK", "chain_type": 1})
        )
    # no on-chain wallet in this shop: the on-chain path answers, not the exchange one
    assert resp.status_code == 422 and "wallet add --chain" in resp.json()["msg"]


@pytest.mark.parametrize("exchange", list(PLATS))
async def test_the_cashier_page_gets_the_steps_for_the_exchange(
    db: Db, sims: Sims, shop: tuple[Settings, ManualClock], exchange: str
) -> None:
    settings, clock = shop
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        created = await client.post("/api/pay/create", json=create_body(PLATS[exchange], f"C-{exchange}"))
        order_id = created.json()["data"]["plat_order_no"]
        info = await client.get("/api/cashier_info", params={"orderId": order_id})
        chain_pick = await client.post(
            "/api/get_pay_params", json={"orderId": order_id, "type": "usdt_trc20"}
        )
    assert info.status_code == 200, info.text
    data = info.json()["data"]
    block = data["exchange"]
    assert data["chain_label"] == block["plat"] == PLATS[exchange] and data["channels"] == []
    assert block["pay_to"] == data["address"] and data["amount"].startswith("25.00")
    for lang in ("zh", "en"):
        text = " ".join(block["steps"][lang])
        assert data["address"] in text and data["amount"] in text
    assert chain_pick.status_code == 400 and chain_pick.json()["success"] is False  # the face's BadInput
    assert PLATS[exchange] in chain_pick.json()["msg"]


async def test_other_faces_read_an_exchange_order_without_failing(
    db: Db, sims: Sims, shop: tuple[Settings, ManualClock]
) -> None:
    settings, clock = shop
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        created = await client.post("/api/pay/create", json=create_body("OKX", "O-1"))
        order_id = created.json()["data"]["plat_order_no"]
        answers = [
            await client.post("/api/order/info", json={"order_id": order_id}),
            await client.post("/api/order/status", json={"order_id": order_id}),
            await client.get(f"/api/pay/orders/{order_id}"),
            await client.get("/api/check_order", params={"out_trade_no": order_id}),
        ]
    assert [a.status_code for a in answers if a.status_code >= 500] == [], [a.text for a in answers]
