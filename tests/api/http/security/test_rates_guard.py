"""Finding 10 (issue 12, part): the CNY/USDT rate that prices orders cannot
be set by one lying or broken source, nor jump. A refresh is stored only
when at least two sources agree, and only when it moved at most
rate.max_move_percent from the last fresh rate; a refused refresh stores
nothing, and the app keeps pricing with the last good rate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from api.http.app import create_app
from engine.clock import ManualClock
from engine.config import RateSettings, Settings
from engine.errors import Unavailable
from engine.models import RateSnapshot
from engine.rates.refresher import refresh_once
from engine.rates.sources import build_sources
from tests.api.http.security.payments import MERCHANT_NOTIFY
from tests.dbharness import Db
from tests.factories import MERCHANT_PID, make_merchant, make_wallets, signed
from tests.fakes.rate_sources import RateSourcesFake

CNY_ORDER = {"pid": MERCHANT_PID, "chain_type": 1, "amount": "100.00", "currency": "CNY",
             "notify_url": MERCHANT_NOTIFY}  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[RateSourcesFake]:
    with RateSourcesFake() as running:
        yield running


@pytest.fixture
def settings(db: Db, server: RateSourcesFake) -> Settings:
    server.reset()  # okx 7.26, binance 7.30, coingecko 7.21
    rate = RateSettings(
        sources=["okx", "binance", "coingecko"], max_age_seconds=600, **server.rate_settings()
    )
    return Settings(database_url=db.url, rate=rate, log_json=False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def app(db: Db, settings: Settings, clock: ManualClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        yield client


async def refresh(db: Db, settings: Settings, clock: ManualClock) -> Decimal:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await refresh_once(db.sessions, build_sources(settings, http), settings, clock)).rate


async def snapshots(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RateSnapshot)) or 0)


async def create(app: AsyncTestClient[Litestar], order_no: str) -> httpx.Response:
    return await app.post("/api/pay/create", json=signed({**CNY_ORDER, "order_no": order_no}))


async def test_one_source_alone_never_sets_the_rate(
    app: AsyncTestClient[Litestar], db: Db, settings: Settings, clock: ManualClock, server: RateSourcesFake
) -> None:
    server.fail("binance", "http_500")
    server.fail("coingecko", "html")
    server.set("okx", prices=["1.00"])  # the one source left says 1 CNY buys a USDT
    with pytest.raises(Unavailable, match="1 rate source"):
        await refresh(db, settings, clock)
    assert await snapshots(db) == 0
    resp = await create(app, "ONE-SOURCE")
    assert resp.status_code == 503, resp.text  # no rate: CNY orders wait, never priced at 1.00


async def test_two_sources_that_disagree_set_nothing_and_an_outlier_is_left_out(
    app: AsyncTestClient[Litestar], db: Db, settings: Settings, clock: ManualClock, server: RateSourcesFake
) -> None:
    server.fail("coingecko", "http_429")
    server.set("binance", prices=["9.50"])
    with pytest.raises(Unavailable, match="agree"):
        await refresh(db, settings, clock)
    assert await snapshots(db) == 0
    server.fail("coingecko", None)  # back: okx 7.26 and coingecko 7.21 agree, binance is left out
    assert await refresh(db, settings, clock) == Decimal("7.235")
    resp = await create(app, "OUTLIER")
    assert resp.status_code == 200 and resp.json()["data"]["amount"] == "13.830001"  # 100 / 7.235


async def test_a_jump_is_refused_and_orders_keep_the_last_rate(
    app: AsyncTestClient[Litestar], db: Db, settings: Settings, clock: ManualClock, server: RateSourcesFake
) -> None:
    assert await refresh(db, settings, clock) == Decimal("7.26")
    for name in ("okx", "binance", "coingecko"):  # all agree on +20 %
        server.set(name, prices=["8.71"])
    clock.advance(seconds=60)
    with pytest.raises(Unavailable, match="max_move_percent"):
        await refresh(db, settings, clock)
    assert await snapshots(db) == 1
    resp = await create(app, "AFTER-JUMP")
    assert resp.status_code == 200 and resp.json()["data"]["amount"] == "13.780001"  # still 7.26
    # Once the last rate is stale (CNY orders refused meanwhile), an agreeing
    # refresh is stored again: a real move is not locked out for ever.
    clock.advance(seconds=600)
    assert (await create(app, "STALE")).status_code == 503
    assert await refresh(db, settings, clock) == Decimal("8.71")


async def test_a_fixed_rate_needs_no_sources(db: Db, server: RateSourcesFake) -> None:
    await make_merchant(db)
    await make_wallets(db, "tron", 1)
    settings = Settings(database_url=db.url, rate_fixed=Decimal("7.20"), log_json=False)
    async with AsyncTestClient(app=create_app(settings)) as app:
        resp = await create(app, "FIXED")
    assert resp.status_code == 200 and resp.json()["data"]["amount"] == "13.890001"
