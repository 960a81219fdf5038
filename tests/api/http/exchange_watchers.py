"""Three exchange watchers in three states, against the exchange simulators,
for the status, health, metrics and console tests: OKX running (one poll
read its account, one record that settled no order), Binance failing (the
simulator answers 5xx), HTX with an account but no watcher ever started."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import ManualClock
from engine.config import OpsSettings, Settings
from engine.models import ExchangeAccount
from tests.dbharness import Db
from tests.integration.engine.exchanges.support import Sims, add_account, credentials, pay, settings_for
from watchers.exchanges.loop import ExchangeWatcher


@dataclass
class Exchanges:
    db: Db
    settings: Settings
    sims: Sims
    okx: ExchangeWatcher  # running
    binance: ExchangeWatcher  # failing
    accounts: dict[str, ExchangeAccount]
    started: datetime


def exchange_settings(db: Db, sims: Sims) -> Settings:
    base = settings_for(db, sims, enabled=["okx", "binance"])  # htx: `usdtpay watch htx` only
    return base.model_copy(update={"ops": OpsSettings(metrics_open=True)})


@pytest.fixture(name="w")
async def exchanges_fixture(any_db: Db, sims: Sims) -> AsyncIterator[Exchanges]:
    settings = exchange_settings(any_db, sims)
    now = datetime.now(UTC).replace(microsecond=0)
    accounts = {
        e: await add_account(any_db, settings, e, credentials(sims, e), now - timedelta(hours=1))
        for e in ("okx", "binance", "htx")
    }
    pay(sims, "okx", "1.000000", now - timedelta(minutes=30))  # no order asks for it: unmatched
    clock = ManualClock(now)
    okx = ExchangeWatcher(settings, any_db.sessions, "okx", clock)
    binance = ExchangeWatcher(settings, any_db.sessions, "binance", clock)
    await okx.claim()
    await binance.claim()
    try:
        assert len(await okx.step_all()) == 1
        sims.binance.fail("5xx", times=5)
        assert await binance.step_all() == []
        yield Exchanges(any_db, settings, sims, okx, binance, accounts, now)
    finally:
        await okx.aclose()
        await binance.aclose()
