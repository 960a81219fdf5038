"""CNY orders through the usdt face depend on a fresh rate: 503 when it is
missing or older than rate.max_age_seconds; USDT orders never need one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.http.app import create_app
from engine.clock import ManualClock
from engine.config import RateSettings, Settings
from engine.rates.refresher import refresh_once
from engine.rates.sources import build_sources
from tests.dbharness import Db
from tests.factories import make_merchant, make_wallets, signed
from tests.fakes.rate_sources import RateSourcesFake

CNY_ORDER = {
    "pid": "10001",
    "chain_type": 1,
    "order_no": "R-1",
    "amount": "100.00",
    "currency": "CNY",
    "notify_url": "https://example.com/notify",
}


@pytest.fixture(scope="module")
def server() -> Iterator[RateSourcesFake]:
    with RateSourcesFake() as running:
        yield running


@pytest.fixture
def setup(db: Db, server: RateSourcesFake) -> tuple[Settings, ManualClock]:
    server.reset()
    rate = RateSettings(
        sources=["okx", "binance", "coingecko"], max_age_seconds=600, **server.rate_settings()
    )
    return Settings(database_url=db.url, rate=rate, log_json=False), ManualClock()


@pytest.fixture
async def client(db: Db, setup: tuple[Settings, ManualClock]) -> AsyncIterator[AsyncTestClient]:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    settings, clock = setup
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as c:
        yield c


async def refresh(db: Db, settings: Settings, clock: ManualClock) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        await refresh_once(db.sessions, build_sources(settings, http), settings, clock)


async def test_cny_order_without_any_rate_is_503(client: AsyncTestClient) -> None:
    resp = await client.post("/api/pay/create", json=signed(CNY_ORDER))
    assert resp.status_code == 503
    body = resp.json()
    assert body["code"] == 503 and body["data"] is None
    assert "no CNY/USDT rate yet" in body["msg"]


async def test_cny_order_uses_the_refreshed_median(
    client: AsyncTestClient, db: Db, setup: tuple[Settings, ManualClock]
) -> None:
    settings, clock = setup
    await refresh(db, settings, clock)  # median 7.26
    resp = await client.post("/api/pay/create", json=signed(CNY_ORDER))
    assert resp.status_code == 200, resp.text
    # 100.00 / 7.26 = 13.7741.. → 13.78 + the first unique step
    assert resp.json()["data"]["amount"] == "13.780001"


async def test_stale_rate_refuses_cny_but_not_usdt(
    client: AsyncTestClient, db: Db, setup: tuple[Settings, ManualClock]
) -> None:
    settings, clock = setup
    await refresh(db, settings, clock)
    clock.advance(seconds=601)
    resp = await client.post("/api/pay/create", json=signed(CNY_ORDER))
    assert resp.status_code == 503 and resp.json()["code"] == 503
    assert "601 s old" in resp.json()["msg"] and "price the order in USDT" in resp.json()["msg"]
    usdt = {**CNY_ORDER, "order_no": "R-2", "currency": "USDT", "amount": "10.5"}
    ok = await client.post("/api/pay/create", json=signed(usdt))
    assert ok.status_code == 200 and ok.json()["data"]["amount"] == "10.500001"
    # A successful refresh brings CNY orders back.
    await refresh(db, settings, clock)
    again = await client.post("/api/pay/create", json=signed(CNY_ORDER))
    assert again.status_code == 200 and again.json()["data"]["amount"] == "13.780001"


async def test_adjusted_rate_prices_the_order(db: Db, server: RateSourcesFake) -> None:
    server.reset()
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    rate = RateSettings(
        sources=["coingecko"],
        multiply=Decimal("1.1"),
        add=Decimal("-0.1"),
        min_sources=1,
        **server.rate_settings(),
    )
    settings, clock = Settings(database_url=db.url, rate=rate, log_json=False), ManualClock()
    await refresh(db, settings, clock)  # 7.21 * 1.1 - 0.1 = 7.831
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as c:
        resp = await c.post("/api/pay/create", json=signed(CNY_ORDER))
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["amount"] == "12.770001"  # 100 / 7.831 = 12.7697.. → 12.77


async def test_changed_merchant_key_applies_at_once(client: AsyncTestClient, db: Db) -> None:
    from sqlalchemy import update

    from engine.models import Merchant

    usdt = {**CNY_ORDER, "currency": "USDT", "amount": "5"}
    assert (await client.post("/api/pay/create", json=signed(usdt))).status_code == 200  # caches the merchant
    new_key = "a-brand-new-merchant-key-42"
    async with db.sessions() as session:
        await session.execute(update(Merchant).values(key=new_key))
        await session.commit()
    ok = await client.post("/api/pay/create", json=signed({**usdt, "order_no": "R-9"}, new_key))
    assert ok.status_code == 200, ok.text
    old = await client.post("/api/pay/create", json=signed({**usdt, "order_no": "R-10"}))
    assert old.status_code == 403
