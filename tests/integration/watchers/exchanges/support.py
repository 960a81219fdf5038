"""What the exchange client tests share: each simulator and a client for it
as fixtures (conftest.py re-exports them), a client for any key with
overrides, one key check that closes its client, and a time window."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.exchanges.ports import KeyCheck
from tests.fakes.exchanges.binance_sim import BinanceKey, BinanceSim
from tests.fakes.exchanges.htx_sim import HtxKey, HtxSim
from tests.fakes.exchanges.okx_sim import OkxKey, OkxSim
from watchers.exchanges.binance.client import BinanceClient
from watchers.exchanges.htx.client import HtxClient
from watchers.exchanges.okx.client import OkxClient

TIMEOUT_S = 1.0  # the client's; the simulators' own timeout fault waits longer


def okx_client(sim: OkxSim, key: OkxKey, **overrides: Any) -> OkxClient:
    args = {"api_key": key.api_key, "secret": key.secret, "passphrase": key.passphrase}
    return OkxClient(**{**args, "base_url": sim.url, "timeout_s": TIMEOUT_S, **overrides})


def binance_client(sim: BinanceSim, key: BinanceKey, **overrides: Any) -> BinanceClient:
    args = {"api_key": key.api_key, "secret": key.secret}
    return BinanceClient(**{**args, "base_url": sim.url, "timeout_s": TIMEOUT_S, **overrides})


def htx_client(sim: HtxSim, key: HtxKey, **overrides: Any) -> HtxClient:
    args = {"access_key": key.access_key, "secret": key.secret}
    return HtxClient(**{**args, "base_url": sim.url, "timeout_s": TIMEOUT_S, **overrides})


async def check_once(client: OkxClient | BinanceClient | HtxClient) -> KeyCheck:
    """The key check of a client made for one test, which is then closed."""
    try:
        return await client.check_key()
    finally:
        await client.aclose()


def window(
    now: datetime | None = None,
    back: timedelta = timedelta(minutes=5),
    ahead: timedelta = timedelta(minutes=1),
) -> tuple[datetime, datetime]:
    """[now - back, now + ahead]: records just added fall inside."""
    now = now or datetime.now(UTC)
    return now - back, now + ahead


@pytest.fixture
def okx_sim() -> Iterator[OkxSim]:
    with OkxSim(timeout_s=2.0) as sim:
        yield sim


@pytest.fixture
def binance_sim() -> Iterator[BinanceSim]:
    with BinanceSim(timeout_s=2.0) as sim:
        yield sim


@pytest.fixture
def htx_sim() -> Iterator[HtxSim]:
    with HtxSim(timeout_s=2.0) as sim:
        yield sim


@pytest.fixture
async def okx(okx_sim: OkxSim) -> AsyncIterator[OkxClient]:
    client = okx_client(okx_sim, okx_sim.add_key())
    yield client
    await client.aclose()


@pytest.fixture
async def binance(binance_sim: BinanceSim) -> AsyncIterator[BinanceClient]:
    client = binance_client(binance_sim, binance_sim.add_key())
    yield client
    await client.aclose()


@pytest.fixture
async def htx(htx_sim: HtxSim) -> AsyncIterator[HtxClient]:
    client = htx_client(htx_sim, htx_sim.add_key())
    yield client
    await client.aclose()
