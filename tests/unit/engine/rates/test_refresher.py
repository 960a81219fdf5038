"""The rate service and refresher on SQLite, against the loopback fake:
median of the sources that answered, adjustment, staleness, the worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.workers.registry import available_workers
from engine.clock import ManualClock
from engine.config import RateSettings, Settings
from engine.errors import Unavailable
from engine.models import Merchant, RateSnapshot
from engine.rates.queries import latest
from engine.rates.refresher import refresh_once, run_refresher, wants_refresher
from engine.rates.service import current_quote
from engine.rates.sources import build_sources
from tests.dbharness import Db
from tests.fakes.rate_sources import RateSourcesFake


@pytest.fixture(scope="module")
def server() -> Iterator[RateSourcesFake]:
    with RateSourcesFake() as running:
        yield running


@pytest.fixture
def fake(server: RateSourcesFake) -> RateSourcesFake:
    server.reset()
    return server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=0.5) as c:
        yield c


def make_settings(db: Db, fake: RateSourcesFake, **rate: Any) -> Settings:
    options: dict[str, Any] = {"sources": ["okx", "binance", "coingecko"], **fake.rate_settings(), **rate}
    return Settings(database_url=db.url, rate=RateSettings(**options), log_json=False)


async def snapshot_count(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RateSnapshot)) or 0)


async def test_median_of_all_three_is_stored(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings, clock = make_settings(db, fake), ManualClock()
    quote = await refresh_once(db.sessions, build_sources(settings, client), settings, clock)
    # okx 7.26, binance 7.30, coingecko 7.21 → 7.26
    assert quote.rate == Decimal("7.26")
    assert quote.sources == {"okx": "7.26", "binance": "7.30", "coingecko": "7.21"}
    async with db.sessions() as session:
        stored = await latest(session)
        assert stored is not None and Decimal(stored.rate) == Decimal("7.26")
        assert stored.fetched_at == clock.now()


async def test_failed_sources_are_left_out_of_the_median(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings = make_settings(db, fake)
    fake.fail("coingecko", "html")
    quote = await refresh_once(db.sessions, build_sources(settings, client), settings, ManualClock())
    assert quote.rate == Decimal("7.28")  # median of 7.26 and 7.30
    assert quote.sources["coingecko"].startswith("error: RateSourceError: coingecko: answer is not JSON")


async def test_no_source_answering_stores_nothing(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings = make_settings(db, fake)
    for name, fault in (("okx", "http_500"), ("binance", "garbage"), ("coingecko", "http_429")):
        fake.fail(name, fault)
    with pytest.raises(Unavailable, match="no rate source answered") as info:
        await refresh_once(db.sessions, build_sources(settings, client), settings, ManualClock())
    assert info.value.status == 503
    assert await snapshot_count(db) == 0


async def test_adjustment_multiplies_then_adds(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings = make_settings(db, fake, multiply=Decimal("1.015"), add=Decimal("-0.03"))
    quote = await refresh_once(db.sessions, build_sources(settings, client), settings, ManualClock())
    assert quote.rate == Decimal("7.26") * Decimal("1.015") - Decimal("0.03")  # 7.3389, exact
    async with db.sessions() as session:
        stored = await latest(session)
        assert stored is not None and stored.median == "7.26"


async def test_adjustment_rounds_up_to_six_places(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings = make_settings(db, fake, sources=["coingecko"], multiply=Decimal("1.0000001"), min_sources=1)
    quote = await refresh_once(db.sessions, build_sources(settings, client), settings, ManualClock())
    assert quote.rate == Decimal("7.210001")  # 7.2100007.. rounded towards +inf


async def test_adjustment_to_non_positive_is_refused(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings = make_settings(db, fake, add=Decimal("-8"))
    with pytest.raises(Unavailable, match=r"rate\.multiply / rate\.add"):
        await refresh_once(db.sessions, build_sources(settings, client), settings, ManualClock())


async def test_rate_goes_stale_after_max_age(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    settings, clock = make_settings(db, fake, max_age_seconds=600), ManualClock()
    await refresh_once(db.sessions, build_sources(settings, client), settings, clock)
    async with db.sessions() as session:
        clock.advance(seconds=600)
        assert (await current_quote(session, settings, clock.now())).rate == Decimal("7.26")
        clock.advance(seconds=1)
        with pytest.raises(Unavailable, match="601 s old") as info:
            await current_quote(session, settings, clock.now())
    assert info.value.status == 503


async def test_no_rate_yet_is_unavailable(db: Db, fake: RateSourcesFake) -> None:
    settings = make_settings(db, fake)
    async with db.sessions() as session:
        with pytest.raises(Unavailable, match="no CNY/USDT rate yet"):
            await current_quote(session, settings, ManualClock().now())


async def test_fixed_rate_overrides_sources_without_adjustment(db: Db, fake: RateSourcesFake) -> None:
    settings = make_settings(db, fake, multiply=Decimal(2))
    settings = settings.model_copy(update={"rate_fixed": Decimal("7.20")})
    async with db.sessions() as session:
        quote = await current_quote(session, settings, ManualClock().now())
    assert quote.rate == Decimal("7.20") and quote.fixed


async def test_old_snapshots_are_pruned(db: Db, fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    settings, clock = make_settings(db, fake), ManualClock()
    sources = build_sources(settings, client)
    await refresh_once(db.sessions, sources, settings, clock)
    clock.advance(days=31)
    await refresh_once(db.sessions, sources, settings, clock)
    assert await snapshot_count(db) == 1


async def test_no_session_is_held_while_sources_answer(
    db: Db, fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    # SQLite has one pooled connection per process: if the refresher held a
    # session across the slow HTTP call, this write would queue behind it.
    settings = make_settings(db, fake, sources=["okx"], min_sources=1)
    fake.slow_seconds = 0.4
    fake.fail("okx", "slow")
    async with httpx.AsyncClient(timeout=5) as patient:
        task = asyncio.create_task(
            refresh_once(db.sessions, build_sources(settings, patient), settings, ManualClock())
        )
        while not fake.requests("okx"):
            await asyncio.sleep(0.01)
        async with db.sessions() as session:
            session.add(Merchant(pid="p1", key="k" * 16, name="", created_at=ManualClock().now()))
            await session.commit()
        assert not task.done(), "the write waited for the refresher's HTTP call"
        assert (await task).rate == Decimal("7.26")


async def test_worker_refreshes_until_stopped_and_logs_failures(
    db: Db, fake: RateSourcesFake, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(db, fake, refresh_seconds=1, timeout_seconds=0.5)
    fake.fail("binance", "error_envelope")
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="usdtpay.rates")
    task = asyncio.create_task(run_refresher(db.sessions, settings, ManualClock(), stop))
    for _ in range(500):
        if await snapshot_count(db):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    async with db.sessions() as session:
        stored = await latest(session)
    assert stored is not None and Decimal(stored.rate) == Decimal("7.235")  # median of 7.26, 7.21
    assert "rate sources failing" in caplog.text and "binance" in caplog.text


async def test_worker_keeps_running_when_every_source_fails(
    db: Db, fake: RateSourcesFake, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(db, fake, sources=["coingecko"], refresh_seconds=1, min_sources=1)
    fake.fail("coingecko", "http_500")
    stop = asyncio.Event()
    task = asyncio.create_task(run_refresher(db.sessions, settings, ManualClock(), stop))
    for _ in range(500):
        if "rate refresh failed" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert "HTTP 500" in caplog.text and "503" in caplog.text
    assert await snapshot_count(db) == 0


def test_worker_is_registered_only_for_market_sources() -> None:
    market = Settings(rate=RateSettings(sources=["okx", "binance"]))
    assert wants_refresher(market) and "rates" in available_workers(market)
    fixed_env = market.model_copy(update={"rate_fixed": Decimal("7.2")})
    assert not wants_refresher(fixed_env) and "rates" not in available_workers(fixed_env)
    fixed_group = Settings(rate=RateSettings(sources=["okx"], fixed=Decimal("7.2")))
    assert "rates" not in available_workers(fixed_group)
    only_fixed = Settings(rate=RateSettings(sources=["fixed"]))
    assert "rates" not in available_workers(only_fixed)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USDTPAY_RATE__SOURCES", '["okx","binance"]')
    monkeypatch.setenv("USDTPAY_RATE__MULTIPLY", "1.01")
    monkeypatch.setenv("USDTPAY_RATE__ADD", "-0.02")
    monkeypatch.setenv("USDTPAY_RATE__MAX_AGE_SECONDS", "120")
    monkeypatch.setenv("USDTPAY_RATE__OKX_URL", "http://127.0.0.1:9/okx")
    rate = Settings().rate
    assert rate.sources == ["okx", "binance"]
    assert rate.multiply == Decimal("1.01") and rate.add == Decimal("-0.02")
    assert rate.max_age_seconds == 120 and rate.okx_url == "http://127.0.0.1:9/okx"
