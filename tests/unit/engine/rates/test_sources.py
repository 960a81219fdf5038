"""Each rate source against the loopback fake that speaks its real shape."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest

from engine.config import RateSettings, Settings
from engine.rates.sources import (
    ADS_PER_SOURCE,
    BinanceSource,
    CoinGeckoSource,
    FixedSource,
    OkxSource,
    RateSourceError,
    build_sources,
    parse_price,
)
from tests.fakes.rate_sources import FAULTS, RateSourcesFake


@pytest.fixture(scope="module")
def server() -> Iterator[RateSourcesFake]:
    with RateSourcesFake() as running:
        yield running


@pytest.fixture
def fake(server: RateSourcesFake) -> RateSourcesFake:
    server.reset()
    server.slow_seconds = 1.0
    return server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=0.3) as c:
        yield c


def source_for(
    name: str, fake: RateSourcesFake, client: httpx.AsyncClient
) -> OkxSource | BinanceSource | CoinGeckoSource:
    urls = fake.rate_settings()
    if name == "okx":
        return OkxSource(client, urls["okx_url"])
    if name == "binance":
        return BinanceSource(client, urls["binance_url"])
    return CoinGeckoSource(client, urls["coingecko_url"])


async def test_okx_is_the_median_of_the_sell_book(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    fake.set("okx", prices=["7.25", "7.26", "7.40", "7.27", "7.10"])
    assert await source_for("okx", fake, client).fetch() == Decimal("7.26")
    query = fake.requests("okx")[-1]["query"]
    assert query["quoteCurrency"] == ["CNY"] and query["baseCurrency"] == ["USDT"]
    assert query["side"] == ["sell"] and query["paymentMethod"] == ["all"] and query["userType"] == ["all"]


async def test_binance_posts_the_search_and_takes_the_median(
    fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    fake.set("binance", prices=["7.31", "7.30", "7.33", "7.35"])
    assert await source_for("binance", fake, client).fetch() == Decimal("7.32")  # (7.31 + 7.33) / 2
    sent = json.loads(fake.requests("binance")[-1]["body"])
    assert sent["asset"] == "USDT" and sent["fiat"] == "CNY" and sent["tradeType"] == "BUY"
    assert sent["page"] == 1 and sent["rows"] == ADS_PER_SOURCE


async def test_coingecko_keeps_the_number_text_exactly(
    fake: RateSourcesFake, client: httpx.AsyncClient
) -> None:
    # 7.123456789012 is not representable as a binary float; the text survives.
    fake.set("coingecko", prices=["7.123456789012"])
    assert await source_for("coingecko", fake, client).fetch() == Decimal("7.123456789012")
    assert fake.requests("coingecko")[-1]["query"] == {"ids": ["tether"], "vs_currencies": ["cny"]}


async def test_only_the_first_ads_count(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    # Ads past the first ADS_PER_SOURCE are far away from the top of the book.
    prices = ["7.20"] * ADS_PER_SOURCE + ["99.00"] * (ADS_PER_SOURCE + 5)
    fake.set("okx", prices=prices)
    assert await source_for("okx", fake, client).fetch() == Decimal("7.20")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", ["okx", "binance", "coingecko"])
async def test_every_fault_raises_a_source_error(
    fake: RateSourcesFake, client: httpx.AsyncClient, name: str, fault: str
) -> None:
    fake.fail(name, fault)
    with pytest.raises(RateSourceError) as info:
        await source_for(name, fake, client).fetch()
    assert str(info.value).startswith(f"{name}: ")


async def test_http_status_is_named(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    fake.fail("okx", "http_500")
    with pytest.raises(RateSourceError, match="HTTP 500"):
        await source_for("okx", fake, client).fetch()


async def test_html_page_is_called_out_as_not_json(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    fake.fail("binance", "html")
    with pytest.raises(RateSourceError, match=r"not JSON \(text/html"):
        await source_for("binance", fake, client).fetch()


async def test_error_envelope_code_is_reported(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    fake.fail("okx", "error_envelope")
    with pytest.raises(RateSourceError, match="error code 50001 System busy"):
        await source_for("okx", fake, client).fetch()


async def test_empty_book_is_an_error(fake: RateSourcesFake, client: httpx.AsyncClient) -> None:
    fake.fail("binance", "empty")
    with pytest.raises(RateSourceError, match="empty"):
        await source_for("binance", fake, client).fetch()


async def test_a_slow_source_recovers_when_the_timeout_allows(fake: RateSourcesFake) -> None:
    fake.fail("coingecko", "slow")
    fake.slow_seconds = 0.2
    async with httpx.AsyncClient(timeout=5) as patient:
        assert await source_for("coingecko", fake, patient).fetch() == Decimal("7.21")


async def test_refused_connection_is_a_source_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    source = OkxSource(client, f"http://127.0.0.1:{port}/v3/c2c/tradingOrders/books")
    with pytest.raises(RateSourceError, match="ConnectError"):
        await source.fetch()


@pytest.mark.parametrize(
    "text", ["7.25e0", "-7", "0", "0.000", "NaN", "Infinity", " ", "", "7,25", "1234567.1"]
)
def test_parse_price_refuses_anything_but_plain_positive_decimals(text: str) -> None:
    with pytest.raises(RateSourceError):
        parse_price(text, "x")


def test_parse_price_refuses_non_text() -> None:
    for value in (7.25, 7, True, None, ["7.25"]):
        with pytest.raises(RateSourceError):
            parse_price(value, "x")


async def test_build_sources_follows_the_settings(client: httpx.AsyncClient) -> None:
    rate = RateSettings(sources=["coingecko", "fixed", "okx", "okx"], fixed=Decimal("7.1"))
    sources = build_sources(Settings(rate=rate), client)
    assert [s.name for s in sources] == ["coingecko", "fixed", "okx"]
    assert isinstance(sources[1], FixedSource) and await sources[1].fetch() == Decimal("7.1")
    with pytest.raises(ValueError, match="USDTPAY_RATE__FIXED"):
        build_sources(Settings(rate=RateSettings(sources=["fixed"])), client)
