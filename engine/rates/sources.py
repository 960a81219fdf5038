"""Where CNY-per-USDT prices come from: a fixed value, OKX C2C, Binance P2P
and CoinGecko, each over a shared httpx.AsyncClient.

A market source reports the median of the first `ADS_PER_SOURCE` ads of the
book in which a payer *buys* USDT for CNY (OKX `side=sell`, Binance
`tradeType=BUY`): the median ignores one or two odd ads at the top of the
book. Every failure (transport error, HTTP status, an error envelope,
garbage, an empty book) raises `RateSourceError`; the rate service keeps the
median of the sources that did answer. Prices are parsed from their JSON
text, never through a float.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from engine.config import Settings
from engine.rates.service import RateSource
from engine.signing import loads_exact

ADS_PER_SOURCE = 10
USER_AGENT = "usdtpay-rate/0.1 (+https://github.com/usdtpay)"
MAX_BODY_BYTES = 2 * 1024 * 1024

# Plain positive decimals; an upstream that starts sending exponents or
# signs is sending something we did not agree to read.
_PRICE_TEXT = re.compile(r"^\d{1,6}(?:\.\d{1,12})?$")


class RateSourceError(Exception):
    """A source did not give a usable price; the message says why."""


def parse_price(value: object, source: str) -> Decimal:
    """A price as sent (JSON string or JSON number text) → Decimal > 0."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise RateSourceError(f"{source}: price is {type(value).__name__}, not a decimal text")
    text = value.strip()
    if not _PRICE_TEXT.match(text):
        raise RateSourceError(f"{source}: price {text[:32]!r} is not a plain decimal")
    price = Decimal(text)
    if price <= 0:
        raise RateSourceError(f"{source}: price {text} is not positive")
    return price


def median_of_first(prices: Sequence[Decimal], source: str, count: int = ADS_PER_SOURCE) -> Decimal:
    if not prices:
        raise RateSourceError(f"{source}: the order book is empty")
    return Decimal(statistics.median(prices[:count]))


async def request_json(client: httpx.AsyncClient, method: str, url: str, source: str, **kwargs: Any) -> Any:
    """Send one request and decode its JSON; transport failures (refused,
    timed out, reset) become a RateSourceError too."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise RateSourceError(f"{source}: {type(exc).__name__} talking to {url}: {str(exc)[:80]}") from exc
    return decode_json(response, source)


def decode_json(response: httpx.Response, source: str) -> Any:
    """The body as JSON (numbers kept as text), or a RateSourceError naming
    the status or the kind of garbage."""
    if response.status_code != 200:
        raise RateSourceError(f"{source}: HTTP {response.status_code} from {response.url.host}")
    if len(response.content) > MAX_BODY_BYTES:
        raise RateSourceError(f"{source}: answer larger than {MAX_BODY_BYTES} bytes")
    try:
        return loads_exact(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = response.headers.get("content-type", "unknown type")
        raise RateSourceError(f"{source}: answer is not JSON ({kind}): {str(exc)[:80]}") from exc


def _field(data: Any, key: str, source: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise RateSourceError(f"{source}: answer has no {key!r} field")
    return data[key]


@dataclass
class FixedSource:
    """A rate the operator sets; it answers without the network."""

    rate: Decimal
    name: str = "fixed"

    async def fetch(self) -> Decimal:
        return self.rate


@dataclass
class OkxSource:
    """OKX C2C order book: GET …/v3/c2c/tradingOrders/books, `data.sell`."""

    client: httpx.AsyncClient
    url: str
    name: str = "okx"

    async def fetch(self) -> Decimal:
        params = {
            "quoteCurrency": "CNY",
            "baseCurrency": "USDT",
            "side": "sell",
            "paymentMethod": "all",
            "userType": "all",
            "showTrade": "false",
            "showFollow": "false",
            "showAlreadyTraded": "false",
            "isAbleFilter": "false",
        }
        body = await request_json(self.client, "GET", self.url, self.name, params=params)
        code = _field(body, "code", self.name)
        if str(code) != "0":
            detail = body.get("detailMsg") or body.get("msg") or body.get("error_message") or ""
            raise RateSourceError(f"{self.name}: error code {code} {str(detail)[:80]}".rstrip())
        ads = _field(_field(body, "data", self.name), "sell", self.name)
        if not isinstance(ads, list):
            raise RateSourceError(f"{self.name}: data.sell is not a list")
        prices = [parse_price(_field(ad, "price", self.name), self.name) for ad in ads[:ADS_PER_SOURCE]]
        return median_of_first(prices, self.name)


@dataclass
class BinanceSource:
    """Binance P2P search: POST …/bapi/c2c/v2/friendly/c2c/adv/search."""

    client: httpx.AsyncClient
    url: str
    name: str = "binance"

    async def fetch(self) -> Decimal:
        payload = {
            "asset": "USDT",
            "fiat": "CNY",
            "tradeType": "BUY",
            "page": 1,
            "rows": ADS_PER_SOURCE,
            "payTypes": [],
            "publisherType": None,
            "merchantCheck": False,
        }
        body = await request_json(self.client, "POST", self.url, self.name, json=payload)
        code = _field(body, "code", self.name)
        if code != "000000" or body.get("success") is False:
            detail = body.get("message") or body.get("messageDetail") or ""
            raise RateSourceError(f"{self.name}: error code {code} {str(detail)[:80]}".rstrip())
        ads = _field(body, "data", self.name)
        if not isinstance(ads, list):
            raise RateSourceError(f"{self.name}: data is not a list")
        prices = [
            parse_price(_field(_field(ad, "adv", self.name), "price", self.name), self.name)
            for ad in ads[:ADS_PER_SOURCE]
        ]
        return median_of_first(prices, self.name)


@dataclass
class CoinGeckoSource:
    """CoinGecko simple price: GET …/simple/price?ids=tether&vs_currencies=cny.

    The price is a JSON number; loads_exact keeps its text.
    """

    client: httpx.AsyncClient
    url: str
    name: str = "coingecko"

    async def fetch(self) -> Decimal:
        params = {"ids": "tether", "vs_currencies": "cny"}
        body = await request_json(self.client, "GET", self.url, self.name, params=params)
        price = _field(_field(body, "tether", self.name), "cny", self.name)
        return parse_price(price, self.name)


def new_client(settings: Settings) -> httpx.AsyncClient:
    """One client for all sources: connection reuse, one timeout policy."""
    return httpx.AsyncClient(
        timeout=settings.rate.timeout_seconds,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


def build_sources(settings: Settings, client: httpx.AsyncClient) -> list[RateSource]:
    """The sources `rate.sources` names, in that order."""
    rate = settings.rate
    sources: list[RateSource] = []
    for name in dict.fromkeys(rate.sources):
        if name == "fixed":
            if rate.fixed is None:
                raise ValueError("rate.sources lists 'fixed' but rate.fixed is not set (USDTPAY_RATE__FIXED)")
            sources.append(FixedSource(rate.fixed))
        elif name == "okx":
            sources.append(OkxSource(client, rate.okx_url))
        elif name == "binance":
            sources.append(BinanceSource(client, rate.binance_url))
        else:
            sources.append(CoinGeckoSource(client, rate.coingecko_url))
    return sources
